"""The Handle protocol front end: TCP and UDP servers, request processing,
challenge-response and sessions.  Imports the core, never another front end."""
