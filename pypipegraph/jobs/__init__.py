"""Job classes, one module per family."""
