"""The DNS front end: the DNS bridge and the handle <-> DNS name mapping.
Imports the core, never another front end."""
