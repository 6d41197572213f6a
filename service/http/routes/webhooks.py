"""The webhook HTTP handlers: each parses, calls one service function, and shapes the answer."""

from typing import Annotated

from litestar import delete, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from service.http.auth import CLIENTS
from service.http.dependencies import Ctx
from service.http.openapi import BODY, WRITE, documented
from service.limits import PROJECT_PAGE_DEFAULT, PROJECT_PAGE_MAX
from service.webhooks import endpoints
from service.webhooks.schemas import DeliveryOut, DeliveryPage, WebhookCreate, WebhookCreated, WebhookOut

TAG = "webhooks"
W = "/v1/webhooks/{webhook_id:str}"


@post(
    "/v1/webhooks",
    status_code=HTTP_201_CREATED,
    opt=CLIENTS,
    **documented(
        "createWebhook",
        TAG,
        "Create a webhook; the answer shows its signing secret, once",
        errors=(*BODY, "limit_reached", *WRITE),
    ),
)
async def create_webhook(data: JSONBody[WebhookCreate], ctx: Ctx) -> WebhookCreated:
    return await endpoints.create_webhook(request=data, ctx=ctx)


@get("/v1/webhooks", opt=CLIENTS, **documented("listWebhooks", TAG, "List webhooks"))
async def list_webhooks(ctx: Ctx) -> list[WebhookOut]:
    return await endpoints.list_webhooks(ctx=ctx)


@get(W, opt=CLIENTS, **documented("getWebhook", TAG, "Get a webhook", errors=("not_found",)))
async def get_webhook(webhook_id: FromPath[str], ctx: Ctx) -> WebhookOut:
    return await endpoints.get_webhook(webhook_id, ctx=ctx)


@delete(W, opt=CLIENTS, **documented("deleteWebhook", TAG, "Delete a webhook", errors=("not_found", *WRITE)))
async def delete_webhook(webhook_id: FromPath[str], ctx: Ctx) -> None:
    await endpoints.delete_webhook(webhook_id, ctx=ctx)


@get(
    f"{W}/deliveries",
    opt=CLIENTS,
    **documented(
        "listWebhookDeliveries",
        TAG,
        "A webhook's deliveries, newest first",
        errors=("validation_error", "not_found"),
    ),
)
async def list_deliveries(
    webhook_id: FromPath[str],
    ctx: Ctx,
    limit: Annotated[int, QueryParameter(ge=1, le=PROJECT_PAGE_MAX)] = PROJECT_PAGE_DEFAULT,
    cursor: Annotated[str | None, QueryParameter(min_length=1)] = None,
) -> DeliveryPage:
    return await endpoints.list_deliveries(webhook_id, limit=limit, cursor=cursor, ctx=ctx)


@post(
    f"{W}/deliveries/{{delivery_id:str}}/redeliver",
    status_code=HTTP_202_ACCEPTED,
    opt=CLIENTS,
    **documented(
        "redeliverWebhookDelivery",
        TAG,
        "Send a delivery again now, whatever its status",
        errors=("not_found", *WRITE),
    ),
)
async def redeliver(webhook_id: FromPath[str], delivery_id: FromPath[str], ctx: Ctx) -> DeliveryOut:
    return await endpoints.redeliver(webhook_id, delivery_id, ctx=ctx)


HANDLERS: list[HTTPRouteHandler] = [
    create_webhook,
    list_webhooks,
    get_webhook,
    delete_webhook,
    list_deliveries,
    redeliver,
]
