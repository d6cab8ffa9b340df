"""The outbound dialer's pure core: who may be called (``eligibility``) and the abandon-rate windows
(``compliance``). No I/O: the store and the daemon's dialer service pass the facts in."""
