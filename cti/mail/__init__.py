"""The e-mail channel (issue #13): inbound classification (pure) and the Twisted SMTP adapter."""
