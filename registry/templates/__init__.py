"""Industry data templates: versioned JSON Schemas and how a document becomes Handle values.

Templates
---------
A template is a JSON Schema (draft 2020-12) for one kind of traceable record,
with an ``x-idnode`` block: ``name``, integer ``version``, ``industry``
(appliance, machinery, rubber, other, or shared), ``values`` (field -> value
type) and ``links`` (field -> link type), for example::

    "x-idnode": {"name": "appliance.product", "version": 1, "industry": "appliance",
                 "values": {"model": "TRACE.MODEL", "serial": "TRACE.SERIAL", ...},
                 "links": {"components": "TRACE.COMPONENT", "batches": "TRACE.BATCH"}}

Built in (``schemas/*.json``):

- ``appliance.product@1``: a home appliance (model, serial, category,
  production date, factory, energy grade, rated power, components, batches);
- ``machinery.equipment@1``: a machine (equipment type, model, serial,
  manufacture date, rated power, components, maintenance records);
- ``rubber.product@1``: a tyre or hose (compound, curing date, size, DOT week
  WWYY, load index and speed rating or bore/pressure/length, material batches);
- ``material.batch@1`` and ``component@1``, shared by all three industries.

Operators add templates without code: :func:`load_template_file` checks a
file and returns the :class:`Template`; its :meth:`Template.to_json` text is
what the ``data_templates`` table stores and :func:`template_from_json` reads
back.  A new version of a template is a new file with the same name.

Value-type scheme
-----------------
A document (validated by :meth:`Template.validate`) becomes these values,
numbered upwards from ``start_index`` (default :data:`DEFAULT_START_INDEX`,
200, clear of URL at 1 and HS_ADMIN at 100; events start at 1000):

========================  ======================================================
``TRACE.TEMPLATE``        ``name@version`` of the template (UTF-8)
``TRACE.DATA``            the whole document, compact JSON, sorted keys; the
                          authority :func:`values_to_document` reads back
``TRACE.<FIELD>``         one value per mapped field present in the document,
                          in mapping order: text as UTF-8, numbers/booleans/
                          objects as compact JSON (e.g. ``TRACE.MODEL``,
                          ``TRACE.SERIAL``, ``TRACE.RATED_POWER_W``): by
                          convention ``TRACE.`` and the field name in capitals,
                          unit included; a template file may map any name
                          matching ``TRACE.[A-Z][A-Z0-9_]*``
``TRACE.COMPONENT``       one value per component handle (a link)
``TRACE.BATCH``           one value per material-batch handle (a link)
========================  ======================================================

Fields the mapping leaves out (maintenance records, standards, test results)
live only in ``TRACE.DATA``.  Link values hold the linked identifier as UTF-8,
possibly on another node or prefix (a machine at ``88.118.9`` lists tyres at
``88.118.10``); :func:`links_of` turns them into ``(to_handle, relation)``
pairs, relation ``component`` or ``batch``, for the store's link table and
where-used queries.  ``TRACE.EVENT`` values (lifecycle events) are described
in :mod:`registry.events`.  ``TRACE.TEMPLATE``, ``TRACE.DATA``, ``TRACE.EVENT``
and the link types are reserved: a template cannot map a field to them.
"""

from registry.templates.errors import TemplateError
from registry.templates.loader import (
    TEMPLATE_KEY,
    find_template,
    load_builtin_templates,
    load_template_file,
    parse_template,
    template_from_json,
)
from registry.templates.mapping import (
    DEFAULT_START_INDEX,
    LINK_RELATIONS,
    TYPE_BATCH,
    TYPE_COMPONENT,
    TYPE_DATA,
    TYPE_TEMPLATE,
    links_of,
    values_to_document,
)
from registry.templates.model import Template

__all__ = [
    "DEFAULT_START_INDEX",
    "LINK_RELATIONS",
    "TEMPLATE_KEY",
    "TYPE_BATCH",
    "TYPE_COMPONENT",
    "TYPE_DATA",
    "TYPE_TEMPLATE",
    "Template",
    "TemplateError",
    "find_template",
    "links_of",
    "load_builtin_templates",
    "load_template_file",
    "parse_template",
    "template_from_json",
    "values_to_document",
]
