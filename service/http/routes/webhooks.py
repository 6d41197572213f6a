"""The webhook HTTP handlers: each parses, calls one service function, and shapes the answer."""

from typing import Annotated

from litestar import delete, get, patch, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from service.http.auth import CLIENTS
from service.http.dependencies import Ctx
from service.http.openapi import BODY, WRITE, documented
from service.limits import PROJECT_PAGE_DEFAULT, PROJECT_PAGE_MAX
from service.webhooks import deliveries, endpoints
from service.webhooks.schemas import (
    DeliveryOut,
    DeliveryPage,
    Recovered,
    RecoverRequest,
    SecretOut,
    SentTestEvent,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookPatch,
)

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
    return await deliveries.list_deliveries(webhook_id, limit=limit, cursor=cursor, ctx=ctx)


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
    return await deliveries.redeliver(webhook_id, delivery_id, ctx=ctx)


@patch(
    W,
    opt=CLIENTS,
    **documented(
        "changeWebhook",
        TAG,
        "Change a webhook's URL or events, or disable or enable it",
        errors=(*BODY, "not_found", *WRITE),
    ),
)
async def change_webhook(webhook_id: FromPath[str], data: JSONBody[WebhookPatch], ctx: Ctx) -> WebhookOut:
    return await endpoints.change_webhook(webhook_id, change=data, ctx=ctx)


@post(
    f"{W}/secret",
    status_code=HTTP_200_OK,
    opt=CLIENTS,
    **documented(
        "rotateWebhookSecret",
        TAG,
        "A new signing secret; the old one signs too for a while",
        errors=("not_found", *WRITE),
    ),
)
async def rotate_secret(webhook_id: FromPath[str], ctx: Ctx) -> SecretOut:
    return await endpoints.rotate_secret(webhook_id, ctx=ctx)


@post(
    f"{W}/recover",
    status_code=HTTP_202_ACCEPTED,
    opt=CLIENTS,
    **documented(
        "recoverWebhookDeliveries",
        TAG,
        "Send again every failed delivery made since a moment",
        errors=(*BODY, "not_found", *WRITE),
    ),
)
async def recover(webhook_id: FromPath[str], data: JSONBody[RecoverRequest], ctx: Ctx) -> Recovered:
    return await deliveries.recover(webhook_id, since=data.since, ctx=ctx)


@post(
    f"{W}/test",
    status_code=HTTP_202_ACCEPTED,
    opt=CLIENTS,
    **documented(
        "sendWebhookTest",
        TAG,
        "Send a webhook.test event to this endpoint alone",
        errors=("not_found", *WRITE),
    ),
)
async def send_test(webhook_id: FromPath[str], ctx: Ctx) -> SentTestEvent:
    return await deliveries.send_test(webhook_id, ctx=ctx)


HANDLERS: list[HTTPRouteHandler] = [
    create_webhook,
    list_webhooks,
    get_webhook,
    delete_webhook,
    list_deliveries,
    redeliver,
    change_webhook,
    rotate_secret,
    recover,
    send_test,
]
