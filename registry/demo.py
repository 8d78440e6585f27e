"""Deterministic demo data: traceable products of three enterprises with their parts trees.

:func:`generate` streams ``(handle, values)`` records, constant memory, fast
enough for a million products.  The records follow the built-in templates
(:mod:`registry.templates`), carry lifecycle events (:mod:`registry.events`)
and a ``URL`` value at index 1 pointing at the local product page.

The enterprises are :data:`DEMO_ENTERPRISES` (the CLI creates their prefixes
before loading): appliances at ``88.118.8``, machinery at ``88.118.9``, rubber
at ``88.118.10``.  Half of the products are appliances, a fifth machines, the
rest tyres and hoses sold on their own.  The parts trees:

- appliance -> serialised components (compressor, control board ...) ->
  component batches (copper tube, PCB); appliance -> material batches (steel
  sheet, refrigerant, ABS);
- machine -> engine or motor component; machine -> tyres or hoses at the
  rubber prefix (cross-enterprise links) -> rubber batches;
- tyre / hose -> compound batch -> natural / synthetic rubber and carbon
  black batches; tyre -> steel or textile cord batch.

Batches are shared: a tyre compound batch goes into 300 tyres, both sold
alone and fitted to machines, so ``natural rubber batch -> compound batch ->
tyre -> machine`` is a where-used chain.  Some PCB and compound batches are
recalled: every product built from them carries a ``recalled`` event.  Each
record comes after the batch and component records it links to.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

from protocol.values import HandleValue
from registry.events import FIRST_EVENT_INDEX, make_event_value
from registry.names import prefix_handle
from registry.templates import load_builtin_templates

Record = tuple[str, list[HandleValue]]
Doc = dict[str, Any]
EventArgs = tuple[str, str, str, str, str]  # kind, actor, place, time, note


@dataclass(frozen=True, slots=True)
class DemoEnterprise:
    """An enterprise the demo data belongs to; the CLI creates its prefix first."""

    prefix: str
    name: str
    industry: str
    description: str


DEMO_ENTERPRISES = (
    DemoEnterprise("88.118.8", "Haiyue Home Appliances Co. (demo)", "appliance",
                   "Refrigerators, washing machines, air conditioners, TVs, heaters; Qingdao"),
    DemoEnterprise("88.118.9", "Taishan Heavy Machinery Co. (demo)", "machinery",
                   "Forklifts, loaders, excavators, cranes, tractors, machine tools; Jinan"),
    DemoEnterprise("88.118.10", "Linghai Rubber & Tyre Co. (demo)", "rubber",
                   "Truck, OTR, agricultural and industrial tyres, hydraulic hoses; Qingdao"),
)
DEMO_PREFIXES: Mapping[str, str] = MappingProxyType(
    {e.industry: e.prefix for e in DEMO_ENTERPRISES}
)
DEFAULT_PAGE_URL = "http://127.0.0.1:8000/trace/{handle}"

_START = date(2024, 1, 2)
_SPAN_DAYS = 700  # production spread over about two years; events up to ~450 days later
# (ISO date, YYMMDD, DOT week WWYY) per day from _START
_DAYS = tuple(
    (d.isoformat(), d.strftime("%y%m%d"), f"{d.isocalendar()[1]:02d}{d.isocalendar()[0] % 100:02d}")
    for d in (_START + timedelta(days=i) for i in range(_SPAN_DAYS + 500))
)


@dataclass(frozen=True, slots=True)
class _Material:
    code: str
    industry: str  # whose prefix the batch records live under
    material_type: str
    grade: str
    supplier: str
    origins: tuple[str, ...]
    quantity: float
    unit: str
    uses: int  # how many products (or batches) one batch goes into
    sources: tuple[str, ...] = ()  # codes of the materials a batch is mixed from
    tests: tuple[tuple[str, float, float], ...] = ()  # (name, low, high)


_COMPOUND_TESTS = (("mooney_viscosity", 45, 64), ("hardness_shore_a", 62, 74))
# Sources come before the compounds that use them.
_MATERIALS = (
    _Material("STEEL", "appliance", "steel_sheet", "DC01", "Rizhao Sheet Steel (demo)",
              ("CN",), 40, "t", 250),
    _Material("R600A", "appliance", "refrigerant", "R600a", "Zhejiang Cooling Gas (demo)",
              ("CN",), 800, "kg", 400),
    _Material("R32", "appliance", "refrigerant", "R32", "Zhejiang Cooling Gas (demo)",
              ("CN",), 1200, "kg", 300),
    _Material("ABS", "appliance", "plastic_resin", "ABS 0215A", "Ningbo Resins (demo)",
              ("CN", "KR"), 25, "t", 500),
    _Material("COPPER", "appliance", "copper_tube", "TP2 9.52x0.35", "Jiangxi Copper (demo)",
              ("CN",), 12, "t", 350),
    _Material("PCB", "appliance", "pcb", "FR-4 2L 1.6mm", "Shenzhen Boards (demo)",
              ("CN",), 5000, "pcs", 200),
    _Material("PAINT", "machinery", "paint", "RAL 1007 PU", "Shandong Coatings (demo)",
              ("CN",), 2000, "l", 60),
    _Material("HYDOIL", "machinery", "hydraulic_oil", "HM 46", "Sinolube Oils (demo)",
              ("CN",), 20000, "l", 80),
    _Material("NR", "rubber", "natural_rubber", "SVR 3L", "Mekong Rubber (demo)",
              ("TH", "VN", "MY"), 20, "t", 4),
    _Material("SBR", "rubber", "synthetic_rubber", "SBR 1502", "Qilu Elastomers (demo)",
              ("CN",), 18, "t", 5),
    _Material("NBR", "rubber", "synthetic_rubber", "NBR 3345", "Lanzhou Elastomers (demo)",
              ("CN",), 12, "t", 5),
    _Material("CB", "rubber", "carbon_black", "N330", "Jiangxi Carbon Black (demo)",
              ("CN",), 10, "t", 6),
    _Material("TRD", "rubber", "rubber_compound", "TRD-4471", "Linghai mixing plant (demo)",
              ("CN",), 2.5, "t", 300, ("NR", "SBR", "CB"), _COMPOUND_TESTS),
    _Material("HSE", "rubber", "rubber_compound", "HSE-2210", "Linghai mixing plant (demo)",
              ("CN",), 1.2, "t", 200, ("NBR", "CB"), _COMPOUND_TESTS),
    _Material("SC", "rubber", "steel_cord", "3x0.20+6x0.35HT", "Jiangsu Steel Cord (demo)",
              ("CN",), 8, "t", 800),
    _Material("TX", "rubber", "textile_cord", "1400dtex/2 PA66", "Jiangsu Textile Cord (demo)",
              ("CN",), 6, "t", 800),
)
_RECALLED = {"PCB": (50, 1), "TRD": (30, 1)}  # batch number % m == r is recalled


@dataclass(frozen=True, slots=True)
class _Part:
    component_type: str
    part_number: str
    manufacturer: str
    batch: str | None  # material code
    spec: tuple[tuple[str, float | str], ...]


@dataclass(frozen=True, slots=True)
class _ApplianceKind:
    category: str
    code: str
    label: str
    models: tuple[str, ...]
    power_w: tuple[int, int]
    weight: int  # share of the appliance mix
    parts: tuple[_Part, ...]
    batches: tuple[str, ...]
    installed: bool  # installed by a service technician after the sale


def _part(kind: str, number: str, maker: str, batch: str | None, spec: str, value: int) -> _Part:
    return _Part(kind, number, f"{maker} (demo)", batch, ((spec, value),))


def _board(number: str) -> _Part:
    return _part("control_board", number, "Haiyue Electronics", "PCB", "voltage_v", 220)


_APPLIANCES = (
    _ApplianceKind("refrigerator", "RF", "refrigerator",
                   ("BCD-470WDPG", "BCD-535WGHSS", "BCD-218STPS"), (90, 220), 25,
                   (_part("compressor", "VTH1113Y", "Huayi Compressor", "COPPER", "cooling_w", 150),
                    _board("PCB-RF-0451")), ("STEEL", "R600A", "ABS"), False),
    _ApplianceKind("washing_machine", "WM", "front-loading washing machine",
                   ("XQG100-HBD14", "XQG80-B12866"), (300, 2200), 25,
                   (_part("motor", "DD-1400", "Haiyue Motor", "COPPER", "rated_power_w", 400),
                    _board("PCB-WM-0722")), ("STEEL", "ABS"), False),
    _ApplianceKind("air_conditioner", "AC", "split air conditioner",
                   ("KFR-35GW-81", "KFR-72LW-A1"), (800, 3000), 20,
                   (_part("compressor", "ASN98D22UFZ", "Huayi Compressor", "COPPER", "cooling_w",
                          3500),
                    _part("fan_motor", "YDK-30-6", "Haiyue Motor", None, "rated_power_w", 30),
                    _board("PCB-AC-1180")), ("COPPER", "R32"), True),
    _ApplianceKind("television", "TV", "4K television", ("LU55X7", "LU65C9", "LU43J5"),
                   (80, 250), 15,
                   (_part("display_panel", "PNL-55-UHD", "Qingdao Display", None, "diagonal_in",
                          55),
                    _board("PCB-TV-2201")), ("ABS",), False),
    _ApplianceKind("water_heater", "WH", "electric water heater", ("EC6002-MC3", "EC8005-T5"),
                   (2000, 3300), 10,
                   (_part("heating_element", "HE-3000", "Haiyue Heating", "STEEL", "rated_power_w",
                          3000),
                    _board("PCB-WH-0310")), ("STEEL",), True),
    _ApplianceKind("dishwasher", "DW", "dishwasher", ("WQP12-W5", "WQP8-B2"), (1800, 2100), 5,
                   (_part("pump", "DP-60", "Haiyue Motor", None, "rated_power_w", 60),
                    _board("PCB-DW-0530")), ("STEEL", "ABS"), False),
)
_APPLIANCE_WEIGHTS = tuple(k.weight for k in _APPLIANCES)


@dataclass(frozen=True, slots=True)
class _Tyre:
    size: str
    load_index: int
    speed: str
    model: str


@dataclass(frozen=True, slots=True)
class _Hose:
    bore_mm: int
    pressure_bar: int
    reinforcement: str
    series: str


@dataclass(frozen=True, slots=True)
class _MachineKind:
    equipment_type: str
    code: str
    models: tuple[str, ...]
    power_kw: tuple[int, int]
    load_kg: tuple[int, int] | None
    fuel: str
    drive: _Part
    tyres: tuple[_Tyre, ...]
    hoses: int
    batches: tuple[str, ...]


def _engine(number: str, kw: int) -> _Part:
    return _part("diesel_engine", number, "Jinan Power Engines", None, "rated_power_kw", kw)


def _motor(number: str, kw: int) -> _Part:
    return _part("electric_motor", number, "Taishan Motors", "COPPER", "rated_power_kw", kw)


_HYDRAULIC = ("PAINT", "HYDOIL")
_MACHINES = (
    _MachineKind("forklift", "FL", ("CPD30", "CPD18", "CPCD50"), (15, 60), (1800, 5000),
                 "electric", _motor("YSF-30", 30), (_Tyre("6.50-10", 141, "A8", "LH-IND1"),) * 4,
                 0, ("PAINT",)),
    _MachineKind("wheel_loader", "WL", ("LW500FN", "LW300KN"), (90, 220), (3000, 5000),
                 "diesel", _engine("WP10G220", 162), (_Tyre("23.5-25", 185, "B", "LH-OTR5"),) * 4,
                 2, _HYDRAULIC),
    _MachineKind("agricultural_tractor", "AT", ("TS1204", "TS904"), (65, 90), None,
                 "diesel", _engine("YT4A2-24", 88),
                 (_Tyre("14.9-24", 126, "A8", "LH-AG2"),) * 2
                 + (_Tyre("18.4-38", 146, "A8", "LH-AG3"),) * 2, 0, ("PAINT",)),
    _MachineKind("mobile_crane", "MC", ("QY25K5", "QY50KA"), (200, 300), (25000, 50000),
                 "diesel", _engine("WP10H336", 247), (_Tyre("385/95R25", 170, "E", "LH-CR1"),) * 6,
                 2, _HYDRAULIC),
    _MachineKind("excavator", "EX", ("SE215", "SE360LC"), (110, 200), None,
                 "diesel", _engine("WP6G175", 129), (), 4, _HYDRAULIC),
    _MachineKind("cnc_lathe", "CL", ("CK6150", "CK6136"), (7, 15), None,
                 "electric", _motor("SPM-11", 11), (), 0, ("PAINT",)),
    _MachineKind("air_compressor", "CP", ("SA-37A", "SA-75A"), (37, 75), None,
                 "electric", _motor("YE3-250M", 55), (), 1, ("PAINT",)),
    _MachineKind("injection_molding_machine", "IM", ("HX-2800", "HX-5300"), (22, 55), None,
                 "electric", _motor("SVM-45", 45), (), 2, _HYDRAULIC),
)
_ROAD_TYRES = (
    _Tyre("315/80R22.5", 156, "L", "LH-TR8"),
    _Tyre("295/80R22.5", 152, "M", "LH-TR6"),
    _Tyre("205/55R16", 91, "V", "LH-PC3"),
    _Tyre("225/45R17", 94, "W", "LH-PC5"),
    _Tyre("11.00-20", 150, "K", "LH-BT2"),
)
_HOSES = (
    _Hose(12, 400, "steel_braid", "H2SN"),
    _Hose(25, 165, "steel_braid", "H2SN"),
    _Hose(38, 280, "steel_spiral", "H4SP"),
)
_CITIES = ("Qingdao, CN", "Jinan, CN", "Shanghai, CN", "Beijing, CN", "Guangzhou, CN",
           "Chengdu, CN", "Wuhan, CN", "Xi'an, CN", "Shenyang, CN", "Hangzhou, CN")
_FACTORIES = {
    "appliance": (("CN-QD01", "Qingdao, CN"), ("CN-QD02", "Qingdao, CN"), ("CN-HF01", "Hefei, CN")),
    "machinery": (("CN-JN01", "Jinan, CN"), ("CN-JN02", "Jinan, CN")),
    "rubber": (("CN-QD05", "Qingdao, CN"),),
}
_GRADES = ("A", "B", "C", "D", "E")
_GRADE_WEIGHTS = (15, 35, 30, 15, 5)
_FIXES = ("worn hydraulic seal replaced", "starter motor replaced", "brake pads replaced",
          "coolant leak fixed", "control relay replaced")


class _Batches:
    """The running batch of one material: a new batch record every ``uses`` takes."""

    def __init__(self, gen: _Generator, material: _Material, sources: tuple[_Batches, ...]) -> None:
        self.gen = gen
        self.material = material
        self.sources = sources
        self.prefix = gen.prefixes[material.industry]
        self.number = 0
        self.used = material.uses
        self.handle = ""

    def take(self, day: int) -> str:
        """The batch handle for one more use; emits the next batch when this one is used up."""
        if self.used >= self.material.uses:
            self.number += 1
            self.used = 0
            self.handle = f"{self.prefix}/MB-{self.material.code}-{self.number:06d}"
            sources = [s.take(day) for s in self.sources]
            self.gen.emit(self.handle, "material.batch", self._document(max(day - 3, 0), sources))
        self.used += 1
        return self.handle

    @property
    def recalled(self) -> bool:
        """Whether the current batch is one the demo recalls."""
        rule = _RECALLED.get(self.material.code)
        return rule is not None and self.number % rule[0] == rule[1]

    def _document(self, day: int, sources: list[str]) -> Doc:
        m, rng = self.material, self.gen.rng
        doc: Doc = {
            "batch_number": f"{m.code}-{_DAYS[day][1]}-{self.number:06d}",
            "material_type": m.material_type,
            "grade": m.grade,
            "supplier": m.supplier,
            "origin_country": m.origins[self.number % len(m.origins)],
            "production_date": _DAYS[day][0],
            "quantity": m.quantity,
            "unit": m.unit,
        }
        if m.tests:
            doc["test_results"] = {n: round(rng.uniform(lo, hi), 1) for n, lo, hi in m.tests}
        if sources:
            doc["source_batches"] = sources
        return doc


#: index of a demo appliance's ID.GS1 value (GTIN + serial, registry/identifiers.py)
GS1_INDEX = 2


def demo_gtin(kind: int, model: int) -> str:
    """The GTIN-13 of a demo appliance model: in the GS1 restricted-circulation range 20x,
    so no demo code can be taken for a real product's."""
    body = f"20{kind:02d}{model:08d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


class _Generator:
    """State of one :func:`generate` run: the random stream, counters and running batches."""

    def __init__(self, n_products: int, seed: int, prefixes: Mapping[str, str], url: str) -> None:
        self.rng = random.Random(seed)
        self.prefixes = prefixes
        self.page_url = url
        self.per_day = max(1, n_products // _SPAN_DAYS)
        self.templates = {t.name: t for t in load_builtin_templates().values()}
        self.out: list[Record] = []
        self.batches: dict[str, _Batches] = {}
        for m in _MATERIALS:
            self.batches[m.code] = _Batches(self, m, tuple(self.batches[s] for s in m.sources))
        self.counters = dict.fromkeys(("CMP", "APP", "EQ", "TY", "HS"), 0)

    def next(self, counter: str) -> int:
        self.counters[counter] += 1
        return self.counters[counter]

    def emit(self, handle: str, template: str, doc: Doc, events: Sequence[EventArgs] = (),
             gs1: str = "") -> None:
        """Queue a record: URL, its GS1 code (if any), template values, then the events."""
        values = [HandleValue(1, "URL", self.page_url.format(handle=handle).encode())]
        if gs1:
            values.append(HandleValue(GS1_INDEX, "ID.GS1", gs1.encode()))
        values += self.templates[template].to_values(doc, check=False)
        values += [make_event_value(FIRST_EVENT_INDEX + i, *e) for i, e in enumerate(events)]
        self.out.append((handle, values))

    def time(self, day: int, first_hour: int = 8, last_hour: int = 18) -> str:
        """A time on ``day`` between the hours, to the minute."""
        minute = first_hour * 60 + int(self.rng.random() * (last_hour - first_hour + 1) * 60)
        return f"{_DAYS[day][0]}T{minute // 60:02d}:{minute % 60:02d}:00Z"

    def made(self, industry: str, n: int, day: int) -> tuple[str, list[EventArgs]]:
        """The factory of product ``n``, and its produced, inspected and shipped events."""
        prefix = self.prefixes[industry]
        factory, city = _FACTORIES[industry][n % len(_FACTORIES[industry])]
        site = f"{factory}, {city}"
        shipped = day + 1 + int(self.rng.random() * 7)
        return factory, [
            ("produced", prefix_handle(prefix), site, self.time(day, 8, 12), ""),
            ("inspected", f"{prefix}/ORG-QC", site, self.time(day, 13, 17), "passed"),
            ("shipped", f"{prefix}/ORG-LOGISTICS", city, self.time(shipped), ""),
        ]

    def component(self, prefix: str, part: _Part, day: int) -> str:
        """Emit one serialised component; returns its handle."""
        n = self.next("CMP")
        handle = f"{prefix}/CMP-{n:08d}"
        doc: Doc = {
            "part_number": part.part_number,
            "component_type": part.component_type,
            "serial": f"C{_DAYS[day][1]}{n:08d}",
            "manufacturer": part.manufacturer,
            "production_date": _DAYS[day][0],
            "specification": dict(part.spec),
        }
        if part.batch:
            doc["batches"] = [self.batches[part.batch].take(day)]
        self.emit(handle, "component", doc)
        return handle

    def appliance(self, day: int) -> None:
        rng, prefix, n = self.rng, self.prefixes["appliance"], self.next("APP")
        kind = rng.choices(_APPLIANCES, _APPLIANCE_WEIGHTS)[0]
        model = kind.models[n % len(kind.models)]
        parts = [self.component(prefix, p, day) for p in kind.parts]
        pcb = self.batches["PCB"]
        recalled_pcb = pcb.handle if pcb.recalled else ""
        factory, events = self.made("appliance", n, day)
        doc: Doc = {
            "model": model,
            "serial": f"{kind.code}{_DAYS[day][1]}{n:08d}",
            "product_name": f"Haiyue {model} {kind.label}",
            "category": kind.category,
            "brand": "Haiyue",
            "production_date": _DAYS[day][0],
            "factory": factory,
            "production_line": f"L{n % 6 + 1}",
            "energy_grade": rng.choices(_GRADES, _GRADE_WEIGHTS)[0],
            "rated_power_w": rng.randint(*kind.power_w),
            "rated_voltage_v": 220,
            "warranty_months": 36 if kind.installed else 12,
            "standards": ["GB 4706.1-2005"],
            "components": parts,
            "batches": [self.batches[b].take(day) for b in kind.batches],
        }
        service = f"{prefix}/ORG-SERVICE"
        if rng.random() < 0.85:
            sold, city = day + rng.randint(15, 120), rng.choice(_CITIES)
            shop = f"{prefix}/ORG-RETAIL-{rng.randrange(40):03d}"
            events.append(("sold", shop, city, self.time(sold, 9, 21), ""))
            if kind.installed:
                events.append(("installed", service, city, self.time(sold + 2), ""))
            if rng.random() < 0.04:
                when = self.time(sold + rng.randint(60, 300))
                events.append(("repaired", service, city, when, "control board replaced"))
            if rng.random() < 0.01:
                when = self.time(sold + rng.randint(300, 330))
                recycler = f"{prefix}/ORG-RECYCLING"
                events.append(("recycled", recycler, "Qingdao, CN", when, "take-back programme"))
        if recalled_pcb:
            note = f"control boards from PCB batch {recalled_pcb} may overheat"
            events.append(("recalled", prefix_handle(prefix), "", self.time(day + 90), note))
        self.emit(f"{prefix}/{kind.code}-{n:07d}", "appliance.product", doc, events,
                  gs1=f"(01)0{demo_gtin(_APPLIANCES.index(kind), kind.models.index(model))}"
                      f"(21){doc['serial']}")

    def rubber(self, day: int, kind: _Tyre | _Hose, fitted_to: str = "") -> str:
        """Emit one tyre or hose, sold on its own or fitted to machine ``fitted_to``."""
        rng, prefix = self.rng, self.prefixes["rubber"]
        doc: Doc
        if isinstance(kind, _Tyre):
            code, compound = "TY", self.batches["TRD"]
            cord = self.batches["SC" if "R" in kind.size else "TX"]
            doc = {"product_kind": "tyre", "model": kind.model, "size": kind.size,
                   "dot_week": _DAYS[day][2], "dot_plant_code": "3Q",
                   "load_index": kind.load_index, "speed_rating": kind.speed,
                   "curing_temperature_c": 150, "curing_time_min": 45}
        else:
            code, compound, cord = "HS", self.batches["HSE"], self.batches["SC"]
            doc = {"product_kind": "hose", "model": f"{kind.series}-{kind.bore_mm:02d}",
                   "size": f"DN{kind.bore_mm}x2000", "inner_diameter_mm": kind.bore_mm,
                   "working_pressure_bar": kind.pressure_bar, "length_m": 2.0,
                   "reinforcement": kind.reinforcement}
        n = self.next(code)
        factory, events = self.made("rubber", n, day)
        doc.update(
            serial=f"{code}{_DAYS[day][1]}{n:08d}",
            compound=compound.material.grade,
            curing_date=_DAYS[day][0],
            curing_press=f"P-{n % 24 + 1:02d}",
            hardness_shore_a=rng.randint(62, 72),
            factory=factory,
            batches=[compound.take(day), cord.take(day)],
        )
        if fitted_to:
            maker = prefix_handle(self.prefixes["machinery"])
            note = f"fitted to {fitted_to}"
            events.append(("installed", maker, "Jinan, CN", self.time(day + 10), note))
        else:
            dealer = f"{prefix}/ORG-DEALER-{rng.randrange(25):03d}"
            when = self.time(day + rng.randint(10, 60))
            events.append(("sold", dealer, rng.choice(_CITIES), when, ""))
        if compound.recalled:
            note = f"compound batch {compound.handle} below tensile strength spec"
            events.append(("recalled", prefix_handle(prefix), "", self.time(day + 120), note))
        handle = f"{prefix}/{code}-{n:08d}"
        self.emit(handle, "rubber.product", doc, events)
        return handle

    def machine(self, day: int) -> None:
        rng, prefix, n = self.rng, self.prefixes["machinery"], self.next("EQ")
        kind = _MACHINES[rng.randrange(len(_MACHINES))]
        handle = f"{prefix}/{kind.code}-{n:07d}"
        parts_day = max(day - 10, 0)
        parts = [self.component(prefix, kind.drive, parts_day)]
        parts += [self.rubber(parts_day, t, handle) for t in kind.tyres]
        hoses = (_HOSES[(n + i) % len(_HOSES)] for i in range(kind.hoses))
        parts += [self.rubber(parts_day, h, handle) for h in hoses]
        factory, events = self.made("machinery", n, day)
        doc: Doc = {
            "equipment_type": kind.equipment_type,
            "model": kind.models[n % len(kind.models)],
            "serial": f"{kind.code}{_DAYS[day][1]}{n:07d}",
            "manufacturer": "Taishan Heavy Machinery Co. (demo)",
            "manufacture_date": _DAYS[day][0],
            "factory": factory,
            "rated_power_kw": rng.randint(*kind.power_kw),
            "fuel": kind.fuel,
            "warranty_months": 24,
            "components": parts,
            "batches": [self.batches[b].take(day) for b in kind.batches],
        }
        if kind.load_kg:
            doc["rated_load_kg"] = rng.randint(*kind.load_kg)
        service, site = f"{prefix}/ORG-SERVICE", rng.choice(_CITIES)
        installed = day + rng.randint(10, 40)
        events.append(("installed", service, site, self.time(installed), "commissioned"))
        records: list[Doc] = []
        hours = 0
        for k in range(rng.randint(0, 3)):
            when = installed + 90 * (k + 1)
            hours += rng.randint(300, 900)
            corrective = rng.random() < 0.3
            note = rng.choice(_FIXES) if corrective else "scheduled service"
            records.append({"date": _DAYS[when][0], "operating_hours": hours,
                            "kind": "corrective" if corrective else "preventive",
                            "technician": f"T-{rng.randint(100, 999)}", "description": note})
            if corrective:
                events.append(("repaired", service, site, self.time(when), note))
        doc["operating_hours"] = hours
        if records:
            doc["maintenance_records"] = records
        self.emit(handle, "machinery.equipment", doc, events)

    def product(self, i: int) -> list[Record]:
        """The records of product number ``i``: new batches and parts first, product last."""
        self.out = []
        day = min(i // self.per_day, _SPAN_DAYS - 1)
        pick = self.rng.random()
        if pick < 0.5:
            self.appliance(day)
        elif pick < 0.7:
            self.machine(day)
        elif pick < 0.925:
            self.rubber(day, _ROAD_TYRES[i % len(_ROAD_TYRES)])
        else:
            self.rubber(day, _HOSES[i % len(_HOSES)])
        return self.out


def generate(
    n_products: int,
    *,
    seed: int = 1,
    prefixes: Mapping[str, str] = DEMO_PREFIXES,
    page_url: str = DEFAULT_PAGE_URL,
) -> Iterator[Record]:
    """Stream the records of ``n_products`` products (plus their parts and batches).

    The same ``seed`` and arguments give the same records.  ``prefixes`` maps
    ``appliance``, ``machinery`` and ``rubber`` to enterprise prefixes;
    ``page_url`` is formatted with ``handle`` for the ``URL`` value.
    """
    missing = {"appliance", "machinery", "rubber"} - set(prefixes)
    if missing:
        raise ValueError(f"prefixes lacks {', '.join(sorted(missing))}")
    gen = _Generator(n_products, seed, prefixes, page_url)
    for i in range(n_products):
        yield from gen.product(i)
