"""One module per export format; the module's name is the format's name."""
