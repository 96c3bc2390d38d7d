"""The monthly SLA report: data model, PDF rendering, storage, scheduling and e-mail delivery.

``model`` and ``formatting`` are pure; the PDF lives in ``pdf`` (with ``sections``,
``operations``, ``charts``), I/O in ``store``, ``delivery``, ``scheduler`` and ``http``.
"""
