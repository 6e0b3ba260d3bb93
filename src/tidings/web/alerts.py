"""The alerts page (/alerts: each alert, its targets and recent deliveries) and each alert's Atom
feed (/alerts/{id}.atom). Read-only: alerts are defined with ``tidings alerts add``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ..errors import TidingsError
from ..watch import alerts
from .pages import PAGE_METHODS, error_page, render


def alerts_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def store(request: Request):
        return request.app.state.backend.reader()

    @router.api_route("/alerts", methods=PAGE_METHODS, response_class=HTMLResponse)
    def alerts_page(request: Request) -> Response:
        db = store(request)
        settings = request.app.state.settings.section("alerts")
        return render(request, "alerts.html", title="Alerts", alerts=alerts.list_alerts(db),
                      deliveries=alerts.recent_deliveries(db, int(settings["recent_deliveries"])))

    @router.api_route("/alerts/{alert_id}.atom", methods=PAGE_METHODS)
    def alert_feed(request: Request, alert_id: int) -> Response:
        try:
            xml = alerts.atom_feed(store(request), alert_id, str(request.base_url),
                                   request.app.state.settings)
        except TidingsError as exc:
            return error_page(request, exc)
        return Response(xml, media_type="application/atom+xml; charset=utf-8")

    return router
