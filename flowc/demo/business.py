"""The business endpoints of the demo API: users, items and the orders saga.

These are the endpoints a `.flow` example orchestrates (the table is in
`flowc.demo.server`): "check then create" user registration, cursor pagination over
a fixed catalogue, and a saga of orders, payments and shipments, each with the
request that compensates it (cancel, refund). They answer the way real APIs do:
201 with the created resource, 404 for an unknown id, 409 for a duplicate user, 422
for a body that is JSON but not the right shape.

Idempotency. `idempotent` wraps the POST handlers: the first request with a given
`Idempotency-Key` on a path runs the handler and, unless it answered >= 500, the
status and body are remembered (`DemoState.idempotency`); a later request with the
same key on the same path gets that response replayed, plus `Idempotent-Replayed:
true`, and the handler does not run again.

Injected failures. The saga's POSTs accept `?fail=STATUS[&fail_times=N]`: they
answer STATUS without changing anything, for the first N calls per (path,
Idempotency-Key) or for every call. The check runs inside `idempotent`, so an
injected 5xx is not remembered and a retry with the same key can succeed: the
behaviour a flow's retry and compensation logic is tested against.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flowc.demo.endpoints import (
    MAX_FAILURES,
    BadRequest,
    Endpoints,
    error,
    int_param,
    json_object,
    required_string,
)
from flowc.demo.state import JsonObject, StoredResponse, decode_cursor, encode_cursor

Handler = Callable[[Request], Awaitable[Response]]


class BusinessEndpoints(Endpoints):
    """Users, items and the orders saga."""

    # --- users -------------------------------------------------------------------------

    async def check_user(self, request: Request) -> Response:
        user_id = request.query_params.get("user_id")
        if not user_id:
            raise BadRequest("user_id query parameter is required")
        return JSONResponse({"exists": user_id in self.state.resources.user_ids})

    async def create_user(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_user)

    async def create_user_by_id(self, request: Request) -> Response:
        """`POST /create`: the original design's example API, where `name` may be left out."""
        return await self.idempotent(request, self.insert_user_by_id)

    async def insert_user_by_id(self, request: Request) -> Response:
        return await self.insert_user(request, name_required=False)

    async def insert_user(self, request: Request, *, name_required: bool = True) -> Response:
        body = await json_object(request)
        user_id = required_string(body, "user_id")
        name = required_string(body, "name") if name_required or "name" in body else user_id
        email = body.get("email")
        if email is not None and not isinstance(email, str):
            raise BadRequest("email must be a string", status=422)
        resources = self.state.resources
        if user_id in resources.user_ids:
            return error("user_id already exists", 409, id=resources.user_ids[user_id])
        user: JsonObject = {"id": resources.next_number("user"), "user_id": user_id, "name": name}
        if email is not None:
            user["email"] = email
        resources.users[user["id"]] = user
        resources.user_ids[user_id] = user["id"]
        return JSONResponse(user, status_code=201)

    async def get_user(self, request: Request) -> Response:
        user_number: int = request.path_params["id"]
        user = self.state.resources.users.get(user_number)
        return JSONResponse(user) if user else error("no such user", 404)

    async def delete_user(self, request: Request) -> Response:
        resources = self.state.resources
        user = resources.users.pop(request.path_params["id"], None)
        if user is None:
            return error("no such user", 404)
        del resources.user_ids[user["user_id"]]
        return Response(status_code=204)

    # --- idempotency -------------------------------------------------------------------

    async def idempotent(self, request: Request, handler: Handler) -> Response:
        """Run `handler` once per Idempotency-Key (per path); replay its response after."""
        key = request.headers.get("idempotency-key")
        if not key:
            return await handler(request)
        ledger = self.state.idempotency
        path = request.url.path
        stored = ledger.lookup(path, key)
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if response.status_code < 500:
            ledger.remember(path, key, StoredResponse(response.status_code, bytes(response.body)))
        return response

    # --- pagination --------------------------------------------------------------------

    async def list_items(self, request: Request) -> Response:
        limit = int_param(request, "limit", 10, 1, 100)
        cursor = request.query_params.get("cursor", "")
        try:
            offset = decode_cursor(cursor) if cursor else 0
        except ValueError:
            raise BadRequest("invalid cursor") from None
        items = self.state.items
        page = items[offset : offset + limit]
        end = offset + len(page)
        next_cursor = encode_cursor(end) if end < len(items) else ""
        return JSONResponse({"items": page, "next_cursor": next_cursor})

    # --- orders saga -------------------------------------------------------------------

    async def create_order(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_order)

    async def insert_order(self, request: Request) -> Response:
        if failure := self.injected_failure(request):
            return failure
        body = await json_object(request)
        resources = self.state.resources
        order_id = f"ord_{resources.next_number('order')}"
        order: JsonObject = {
            "id": order_id,
            "status": "created",
            "item": body.get("item", "widget"),
            "quantity": body.get("quantity", 1),
            "amount": body.get("amount", 0),
        }
        resources.orders[order_id] = order
        return JSONResponse(order, status_code=201)

    async def get_order(self, request: Request) -> Response:
        return self.found(self.state.resources.orders, request, "order")

    async def cancel_order(self, request: Request) -> Response:
        return self.set_status(self.state.resources.orders, request, "order", "cancelled")

    async def create_payment(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_payment)

    async def insert_payment(self, request: Request) -> Response:
        def payment(body: JsonObject, order: JsonObject) -> JsonObject:
            return {"amount": body.get("amount", order["amount"]), "status": "captured"}

        resources = self.state.resources
        return await self.insert_for_order(request, resources.payments, "payment", "pay", payment)

    async def get_payment(self, request: Request) -> Response:
        return self.found(self.state.resources.payments, request, "payment")

    async def refund_payment(self, request: Request) -> Response:
        return self.set_status(self.state.resources.payments, request, "payment", "refunded")

    async def create_shipment(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_shipment)

    async def insert_shipment(self, request: Request) -> Response:
        def shipment(body: JsonObject, order: JsonObject) -> JsonObject:
            return {"address": body.get("address", ""), "status": "scheduled"}

        resources = self.state.resources
        return await self.insert_for_order(
            request, resources.shipments, "shipment", "shp", shipment
        )

    async def insert_for_order(
        self,
        request: Request,
        table: dict[str, JsonObject],
        kind: str,
        prefix: str,
        fields: Callable[[JsonObject, JsonObject], JsonObject],
    ) -> Response:
        """Create a payment or shipment of an existing order (404 when there is none)."""
        if failure := self.injected_failure(request):
            return failure
        body = await json_object(request)
        order_id = required_string(body, "order_id")
        resources = self.state.resources
        if order_id not in resources.orders:
            return error("no such order", 404)
        record_id = f"{prefix}_{resources.next_number(kind)}"
        record: JsonObject = {"id": record_id, "order_id": order_id}
        record.update(fields(body, resources.orders[order_id]))
        table[record_id] = record
        return JSONResponse(record, status_code=201)

    async def get_shipment(self, request: Request) -> Response:
        return self.found(self.state.resources.shipments, request, "shipment")

    async def cancel_shipment(self, request: Request) -> Response:
        return self.set_status(self.state.resources.shipments, request, "shipment", "cancelled")

    def injected_failure(self, request: Request) -> JSONResponse | None:
        """The error asked for with `?fail=STATUS[&fail_times=N]`, if this call must fail."""
        if "fail" not in request.query_params:
            return None
        status = int_param(request, "fail", 500, 400, 599)
        times = int_param(request, "fail_times", MAX_FAILURES, 0, MAX_FAILURES)
        key = f"{request.url.path} {request.headers.get('idempotency-key', '')}"
        if self.state.injected_failures[key] >= times:
            return None
        self.state.injected_failures[key] += 1
        return error("injected failure", status)

    @staticmethod
    def found(table: dict[str, JsonObject], request: Request, kind: str) -> Response:
        record = table.get(request.path_params["id"])
        return JSONResponse(record) if record else error(f"no such {kind}", 404)

    @staticmethod
    def set_status(
        table: dict[str, JsonObject], request: Request, kind: str, status: str
    ) -> Response:
        record = table.get(request.path_params["id"])
        if record is None:
            return error(f"no such {kind}", 404)
        record["status"] = status
        return JSONResponse(record)
