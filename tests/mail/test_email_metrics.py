from __future__ import annotations

from cti.reports.email_metrics import EmailAgentMetrics, EmailTask, email_metrics


def test_per_agent() -> None:
    tasks = [
        EmailTask("a", received=0, deadline=100, offered=10, answered=50, closed=70),
        EmailTask("a", received=0, deadline=100, offered=20, answered=150, closed=170),
        EmailTask("b", received=0, deadline=100, offered=5),
        EmailTask("", received=0, deadline=100),
    ]
    assert email_metrics(tasks) == [
        EmailAgentMetrics("a", offered=2, answered=2, answered_in_deadline=1, handle_time=105.0),
        EmailAgentMetrics("b", offered=1, answered=0, answered_in_deadline=0, handle_time=0.0),
    ]
