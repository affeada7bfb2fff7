"""Server-rendered pages, one module per domain: parse input, check access, call a selector or service, render."""
