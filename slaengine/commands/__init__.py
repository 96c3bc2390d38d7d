"""CLI command modules; each exposes add_parser(subparsers)."""
