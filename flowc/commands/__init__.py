"""One module per ``flowc`` sub-command; each exposes ``command`` (a click command)."""
