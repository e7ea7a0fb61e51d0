"""One router per resource; thin: parse, call a service, shape the response."""
