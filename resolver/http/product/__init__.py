"""The product page: what a person sees after scanning a product's code (zh-CN first).

``/{handle}`` of a templated record, asked by a browser (``Accept: text/html``),
is this page; machines keep the redirect / values behaviour of
:mod:`resolver.http.pages`.  :mod:`~resolver.http.product.view` gathers what the
page says (the trace, the recall list, the maker's registered name) and
:mod:`~resolver.http.product.render` draws it with Jinja2 (autoescape) and the
``pages`` message catalog.
"""
