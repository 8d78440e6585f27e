"""The web console (``/console/``): enterprises apply and manage identifiers, reviewers
review, operators run the node.  Server-rendered Jinja2 pages (autoescape) with
Babel message catalogs (zh-CN default, English), no script and no external asset.

Modules: :mod:`.app` (factory), :mod:`.security` (roles, CSRF, headers),
:mod:`.sessions`, :mod:`.i18n`, and one route table per feature: :mod:`.auth`,
:mod:`.apply`, :mod:`.review`, :mod:`.portal`, :mod:`.bulk`, :mod:`.labels`,
:mod:`.operator`.
"""
