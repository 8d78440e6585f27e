"""The resolver core: one ResolutionService and the stack behind it (cache tiers,
registry, referral and recursion, client), traceability, verification, limits and
metrics.  It imports no front end."""
