"""One module per server the sandbox runs; each knows its command line, config and readiness."""
