import subprocess
import sys

MODULES = [
    "alertgen",
    "alertspec",
    "fromconfig",
    "generate",
    "openslo",
    "pipeline",
    "promtest",
    "render",
    "sloth",
    "specfile",
    "templating",
    "timeline",
    "windows",
]


def test_rules_core_imports_no_faust_kafka_or_aiohttp() -> None:
    code = (
        "import sys\n"
        + "".join(f"import slaengine.rules.{m}\n" for m in MODULES)
        + "print(sorted(m for m in ('faust', 'aiokafka', 'aiohttp') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
