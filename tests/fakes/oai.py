"""A local arXiv OAI-PMH endpoint on 127.0.0.1, serving ListRecords in the real wire format.

Records follow arXiv's `arXiv` metadata format (`id`, `created`, `updated`,
`authors/author/keyname,forenames`, `title`, `categories`, `comments`, `doi`, `abstract`)
under a header with `identifier`, `datestamp` and one `setSpec` per archive the categories
belong to (so a cross-list shows up in both archives' sets). ListRecords honours
`metadataPrefix`, `set`, `from`, `until` (inclusive days) and pages `page_size` records at a
time behind a resumptionToken; OAI errors come in OAI's shape (`noRecordsMatch`,
`badArgument`, `cannotDisseminateFormat`, `badResumptionToken`).

Set `today` to hide records the repository would not have announced yet (a simulated week
moves it forward). `fail_next()` queues raw answers (a 503 with Retry-After, an HTML page,
malformed XML) served before the real ones. Every request's arguments are kept in `requests`.

    with local_server() as server:
        oai = FakeOai(server, [OaiRecord("2405.00001", date(2024, 5, 6), ("cs.LG",))])
        collector = ArxivCollector(oai_url=oai.url, categories=["cs.LG"], delay_seconds=0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape, quoteattr

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

PHYSICS_ARCHIVES = (
    "astro-ph cond-mat gr-qc hep-ex hep-lat hep-ph hep-th math-ph nlin nucl-ex nucl-th "
    "physics quant-ph"
).split()
_XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@dataclass(frozen=True)
class OaiRecord:
    id: str  # without version, as arXiv's OAI gives it: 2405.00001, hep-th/9901001
    datestamp: date  # the day arXiv announced (or re-announced) it
    categories: tuple[str, ...]  # primary first
    title: str = "Untitled"
    abstract: str = ""
    authors: tuple[tuple[str, str], ...] = (("Quill", "Ada"),)  # (keyname, forenames)
    created: date | None = None  # first version; defaults to the datestamp
    updated: date | None = None  # latest version, when there is more than one
    doi: str | None = None
    comments: str | None = None
    deleted: bool = False

    @property
    def sets(self) -> tuple[str, ...]:
        specs = []
        for category in self.categories:
            archive = category.split(".")[0]
            specs.append(f"physics:{archive}" if archive in PHYSICS_ARCHIVES else archive)
        return tuple(dict.fromkeys(specs))


@dataclass
class Fault:
    """A raw answer served instead of the next real one."""

    status: int = 503
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


class FakeOai:
    def __init__(
        self,
        server: HTTPServer,
        records: Iterable[OaiRecord] = (),
        *,
        page_size: int = 2,
        path: str = "/oai",
    ):
        self.records: list[OaiRecord] = list(records)
        self.page_size = page_size
        self.today: date | None = None
        self.requests: list[dict[str, str]] = []
        self.faults: list[Fault] = []
        self._real_before_fault = 0
        self.url = server.url_for(path)
        server.expect_request(path).respond_with_handler(self._handle)

    def add(self, *records: OaiRecord) -> None:
        """New records; one with a known id replaces it (OAI exposes only an item's latest record)."""
        new = {r.id for r in records}
        self.records = [r for r in self.records if r.id not in new] + list(records)

    def fail_next(self, *faults: Fault, after: int = 0) -> None:
        """Serve `faults` in turn, starting once `after` more real answers have gone out."""
        self.faults.extend(faults)
        self._real_before_fault = after

    # ---- the protocol --------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        args = {k: v for k, v in request.args.items()}
        self.requests.append(args)
        if self.faults and self._real_before_fault > 0:
            self._real_before_fault -= 1
        elif self.faults:
            fault = self.faults.pop(0)
            return Response(
                fault.body,
                status=fault.status,
                headers=fault.headers,
                content_type=fault.content_type,
            )
        if args.get("verb") != "ListRecords":
            return self._error(args, "badVerb", "only ListRecords is served here")
        if "resumptionToken" in args:
            try:
                set_name, start, end, offset = args["resumptionToken"].split("|")
                since, until, skip = date.fromisoformat(start), _day(end), int(offset)
            except ValueError:
                return self._error(args, "badResumptionToken", "the token is not valid")
        else:
            if args.get("metadataPrefix") != "arXiv":
                return self._error(args, "cannotDisseminateFormat", "use metadataPrefix=arXiv")
            set_name, skip = args.get("set", ""), 0
            try:
                since = date.fromisoformat(args.get("from", "1990-01-01"))
                until = _day(args.get("until", ""))
            except ValueError:
                return self._error(args, "badArgument", "from/until must be YYYY-MM-DD")
        last = min(d for d in (until, self.today) if d) if (until or self.today) else None
        chosen = sorted(
            (
                r
                for r in self.records
                if (not set_name or set_name in r.sets)
                and r.datestamp >= since
                and (last is None or r.datestamp <= last)
            ),
            key=lambda r: (r.datestamp, r.id),
        )
        if not chosen:
            return self._error(args, "noRecordsMatch", "no records match the request")
        page = chosen[skip : skip + self.page_size]
        body = "".join(_record_xml(r) for r in page)
        if skip + self.page_size < len(chosen):
            token = f"{set_name}|{since.isoformat()}|{until.isoformat() if until else ''}|{skip + self.page_size}"
            body += (
                f'<resumptionToken cursor="{skip}" completeListSize="{len(chosen)}">'
                f"{escape(token)}</resumptionToken>"
            )
        elif skip:
            body += f'<resumptionToken cursor="{skip}" completeListSize="{len(chosen)}"/>'
        return self._answer(args, f"<ListRecords>{body}</ListRecords>")

    def _error(self, args: dict[str, str], code: str, text: str) -> Response:
        return self._answer(args, f'<error code="{code}">{escape(text)}</error>')

    def _answer(self, args: dict[str, str], inner: str) -> Response:
        stamp = f"{(self.today or date(2024, 5, 31)).isoformat()}T21:00:00Z"
        attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in args.items())
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" {_XSI} '
            'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
            'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
            f"<responseDate>{stamp}</responseDate>\n"
            f"<request {attrs}>{escape(self.url)}</request>\n{inner}\n</OAI-PMH>\n"
        )
        return Response(xml.encode(), status=200, content_type="text/xml; charset=utf-8")


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _record_xml(r: OaiRecord) -> str:
    sets = "".join(f"<setSpec>{escape(s)}</setSpec>" for s in r.sets)
    status = ' status="deleted"' if r.deleted else ""
    header = (
        f"<header{status}><identifier>oai:arXiv.org:{escape(r.id)}</identifier>"
        f"<datestamp>{r.datestamp.isoformat()}</datestamp>{sets}</header>"
    )
    if r.deleted:
        return f"<record>{header}</record>"
    authors = "".join(
        f"<author><keyname>{escape(k)}</keyname><forenames>{escape(f)}</forenames></author>"
        for k, f in r.authors
    )
    optional = ""
    if r.updated:
        optional += f"<updated>{r.updated.isoformat()}</updated>"
    meta = (
        f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/" {_XSI} '
        'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">'
        f"<id>{escape(r.id)}</id><created>{(r.created or r.datestamp).isoformat()}</created>"
        f"{optional}<authors>{authors}</authors>"
        f"<title>{escape(r.title)}</title><categories>{' '.join(r.categories)}</categories>"
        + (f"<comments>{escape(r.comments)}</comments>" if r.comments else "")
        + (f"<doi>{escape(r.doi)}</doi>" if r.doi else "")
        + "<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
        f"<abstract>  {escape(r.abstract)}\n</abstract></arXiv>"
    )
    return f"<record>{header}<metadata>{meta}</metadata></record>"
