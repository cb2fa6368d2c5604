"""订单: import a platform export in three steps (upload → 字段对应 → 预检 → 确认导入), follow
the background import, see the history, and browse orders matched or unmatched.

Nothing is written before the operator confirms the dry run: the upload is kept in a
temporary folder under its upload id (``members/order_uploads.py``), steps ② and ③ are GET
pages over it, and only ``确认导入`` (POST, audited) starts the job
(``members/import_jobs.py``), which runs in the background while its page polls every 2 s.
"""

from __future__ import annotations

from datetime import UTC

from aiohttp import web

from bot.appkeys import CLOCK, SERVICES, SESSIONMAKER
from console import audit
from console.auth import redirect
from console.current import actor_of
from console.registry import PageRoutes
from console.rendering import beijing, render
from members.import_jobs import PLATFORMS, RUNNING, get_job, job_history, presets, save_preset
from members.import_jobs import start_import as start_job
from members.order_csv import FIELDS
from members.order_uploads import (
    UploadError,
    bad_rows_csv,
    dry_run,
    find_upload,
    inspect_upload,
    store_upload,
    upload_dir,
)
from members.tier_views import PAGE, list_orders

page = PageRoutes()
PATH = "/admin/orders"
FIELD_LABELS = {
    "order_no": "订单编号", "account": "买家账号", "phone": "手机号", "amount": "实付金额",
    "created_at": "下单时间", "status": "订单状态", "waybill_no": "物流单号",
    "carrier": "物流公司", "title": "商品标题", "sku": "规格/SKU", "quantity": "数量",
    "unit_price": "单价", "refund": "退款金额",
}  # fmt: skip


def money(cents: int) -> str:
    return f"¥{cents / 100:,.2f}"


def _samples(seen) -> list[dict]:
    """The parsed sample rows as shown: ¥ amounts, Beijing times, 计入/不计入."""
    out = []
    for s in seen.samples:
        if s.values is None:
            out.append({"line": s.line, "error": s.error})
            continue
        no, account, phone, cents, when, status, counted = s.values
        out.append({
            "line": s.line, "error": None, "order_no": no, "buyer": account or phone,
            "amount": money(cents), "time": beijing(when.replace(tzinfo=UTC)),
            "status": status or "—", "counted": counted,
        })  # fmt: skip
    return out


def _platform(value: str) -> str:
    return value if value in PLATFORMS else "1688"


def _chosen(query) -> dict[str, str] | None:
    """The operator's mapping from the query (m_<field>); None when none was sent."""
    if not any(f"m_{f}" in query for f in FIELDS):
        return None
    return {f: str(query.get(f"m_{f}", ""))[:128] for f in FIELDS}


async def _index(request: web.Request, *, error: str | None = None, status: int = 200):
    filt = request.query.get("matched", "")
    matched = {"yes": True, "no": False}.get(filt)
    try:
        before = int(request.query["before"]) if request.query.get("before") else None
    except ValueError:
        before = None
    async with request.config_dict[SESSIONMAKER]() as session:
        history = await job_history(session, request.config_dict[CLOCK].now())
        rows, total = await list_orders(session, matched=matched, before_id=before)
    return render(
        request, "orders.html",
        {"history": history, "rows": rows, "total": total, "matched": filt, "error": error,
         "platforms": PLATFORMS, "next_before": rows[-1][0].id if len(rows) == PAGE else None},
        status=status,
    )  # fmt: skip


@page.get(PATH, role="viewer")
async def orders(request: web.Request) -> web.StreamResponse:
    return await _index(request)


async def _chunks(field):
    while chunk := field.file.read(1 << 20):
        yield chunk


@page.post(PATH + "/upload", role="operator")
async def upload(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    field = form.get("file")
    if not isinstance(field, web.FileField):
        return await _index(request, error="请选择要上传的订单 CSV 文件", status=400)
    try:
        stored = await store_upload(upload_dir(), field.filename or "", _chunks(field))
    except UploadError as exc:
        return await _index(request, error=str(exc), status=400)
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        audit.record(
            session, actor_of(request), "orders.upload", ("order_upload", stored.upload_id),
            None, {"filename": stored.filename, "size": stored.size},
            at=request.config_dict[CLOCK].now(),
        )  # fmt: skip
    platform = _platform(str(form.get("platform", "")))
    return redirect(request, f"{PATH}/map?upload={stored.upload_id}&platform={platform}")


async def _inspection(request: web.Request, query=None):
    """(upload, inspection, platform) for steps ② and ③; UploadError when unusable."""
    query = request.query if query is None else query
    found = find_upload(upload_dir(), str(query.get("upload", "")))
    platform = _platform(str(query.get("platform", "")))
    chosen = _chosen(query)
    if chosen is None:
        async with request.config_dict[SESSIONMAKER]() as session:
            chosen = (await presets(session)).get(platform)
    config = request.config_dict[SERVICES].config.orders
    return found, await inspect_upload(found, config, chosen), platform


@page.get(PATH + "/map", role="operator")
async def mapping(request: web.Request) -> web.StreamResponse:
    try:
        found, seen, platform = await _inspection(request)
    except UploadError as exc:
        return await _index(request, error=str(exc), status=400)
    return render(request, "orders_map.html", {
        "upload": found, "seen": seen, "platform": platform, "platforms": PLATFORMS,
        "fields": FIELD_LABELS, "samples": _samples(seen), "error": None,
    })  # fmt: skip


async def _preview(request: web.Request, query=None):
    found, seen, platform = await _inspection(request, query)
    if seen.missing:
        names = "、".join(FIELD_LABELS[f] for f in seen.missing)
        raise UploadError(f"还有必填字段没有对应的列：{names}")
    async with request.config_dict[SESSIONMAKER]() as session:
        config = request.config_dict[SERVICES].config.orders
        result = await dry_run(session, found, seen.encoding, seen.mapping, config)
    return found, seen, platform, result


@page.get(PATH + "/check", role="operator")
async def check(request: web.Request) -> web.StreamResponse:
    try:
        found, seen, platform, result = await _preview(request)
    except UploadError as exc:
        if request.query.get("upload"):
            try:
                found, seen, platform = await _inspection(request)
                return render(request, "orders_map.html", {
                    "upload": found, "seen": seen, "platform": platform,
                    "platforms": PLATFORMS, "fields": FIELD_LABELS, "error": str(exc),
                    "samples": _samples(seen),
                }, status=400)  # fmt: skip
            except UploadError:
                pass
        return await _index(request, error=str(exc), status=400)
    return render(request, "orders_check.html", {
        "upload": found, "seen": seen, "platform": platform, "result": result,
        "fields": FIELD_LABELS, "query": request.query_string,
    })  # fmt: skip


@page.get(PATH + "/check.csv", role="operator")
async def check_csv(request: web.Request) -> web.StreamResponse:
    try:
        _found, _seen, _platform_, result = await _preview(request)
    except UploadError as exc:
        return await _index(request, error=str(exc), status=400)
    return web.Response(
        body=bad_rows_csv(result.bad_rows),
        headers={"Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
                 "Content-Disposition": 'attachment; filename="bad-lines.csv"'},
    )  # fmt: skip


@page.post(PATH + "/confirm", role="operator")
async def confirm(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    query = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        # The dry run was step ③; here only the mapping is checked again, so confirming a
        # big file answers at once and the job reads it (a file that fails fails the job).
        found, seen, platform = await _inspection(request, query)
        if seen.missing:
            raise UploadError("还有必填字段没有对应的列，请返回字段对应")
    except UploadError as exc:
        return await _index(request, error=str(exc), status=400)
    clock = request.config_dict[CLOCK]
    actor = actor_of(request)
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        await save_preset(session, platform, seen.mapping, clock.now())
    job = await start_job(
        request.app, request.config_dict[SESSIONMAKER], request.config_dict[SERVICES], found,
        encoding=seen.encoding, mapping=seen.mapping, total_rows=seen.rows, actor=actor.name,
    )  # fmt: skip
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        audit.record(
            session, actor, "orders.import", ("order_import", job.id), None,
            {"filename": found.filename, "platform": platform, "mapping": seen.mapping,
             "rows": seen.rows, "encoding": seen.encoding_label},
            at=clock.now(),
        )  # fmt: skip
    return redirect(request, f"{PATH}/job?id={job.id}")


@page.get(PATH + "/job", role="viewer")
async def job(request: web.Request) -> web.StreamResponse:
    try:
        job_id = int(request.query.get("id", ""))
    except ValueError:
        raise web.HTTPNotFound() from None
    async with request.config_dict[SESSIONMAKER]() as session:
        await job_history(session, request.config_dict[CLOCK].now(), limit=1)  # marks stale
        found = await get_job(session, job_id)
    if found is None:
        raise web.HTTPNotFound()
    template = "orders_job_body.html" if request.headers.get("HX-Request") else "orders_job.html"
    return render(request, template, {"job": found, "running": found.status == RUNNING})
