"""Asterisk's durable logs (queue_log, CDR, CEL): their formats, the readers, the reconciler, the repair.

``formats`` and ``reconcile`` are pure; ``sources`` (files, PostgreSQL) and ``repair`` (the daemon
component) are the edge. See docs/design/records-repair.md.
"""
