"""bot/api.py itself: bearer-token auth, body validation naming the field, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from bot import api
from bot.api import ApiError, ApiRoutes
from bot.appkeys import CONFIG

routes = ApiRoutes("things")


class Thing(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=1)


@routes.route("POST", "/things", "Make a thing", body=Thing)
async def make_thing(request: web.Request, body: Thing) -> dict:
    if body.name == "taken":
        raise ApiError(409, "name taken", field="name")
    return {"name": body.name, "size": body.size}


@routes.route("GET", "/things/{name}", "Read a thing", query={"verbose": "more detail"})
async def read_thing(request: web.Request) -> dict:
    return {"name": request.match_info["name"]}


async def client_for(aiohttp_client, make_config, token="s3cret"):
    app = web.Application()
    app[CONFIG] = make_config(api={"token": token})
    api.setup(app, [routes])
    return await aiohttp_client(app)


AUTH = {"Authorization": "Bearer s3cret"}


async def test_request_without_token_is_refused_with_401(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.get("/api/things/a")
    assert resp.status == 401
    assert "token" in (await resp.json())["error"]


async def test_wrong_token_is_refused_with_401(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.get("/api/things/a", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


async def test_api_is_off_without_a_configured_token(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config, token="")
    resp = await client.get("/api/things/a", headers={"Authorization": "Bearer "})
    assert resp.status == 401
    assert "[api] token" in (await resp.json())["error"]


async def test_right_token_reaches_the_endpoint(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.get("/api/things/a", headers=AUTH)
    assert resp.status == 200 and await resp.json() == {"name": "a"}


async def test_created_resource_answers_201(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.post("/api/things", json={"name": "x", "size": 2}, headers=AUTH)
    assert resp.status == 201 and (await resp.json())["size"] == 2


async def test_invalid_body_names_the_field(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.post("/api/things", json={"name": "x", "size": 0}, headers=AUTH)
    assert resp.status == 400
    data = await resp.json()
    assert data["error"].startswith("size:")
    assert data["problems"][0]["field"] == "size"


async def test_missing_field_is_named(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.post("/api/things", json={"size": 3}, headers=AUTH)
    assert resp.status == 400 and (await resp.json())["error"].startswith("name:")


async def test_body_that_is_not_json_is_a_400(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.post("/api/things", data=b"{nope", headers=AUTH)
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]


async def test_api_error_becomes_its_status_and_message(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.post("/api/things", json={"name": "taken", "size": 1}, headers=AUTH)
    assert resp.status == 409
    assert await resp.json() == {"error": "name taken", "field": "name"}


async def test_openapi_document_is_public_and_lists_declared_endpoints(aiohttp_client, make_config):
    client = await client_for(aiohttp_client, make_config)
    resp = await client.get("/api/openapi.json")  # no token: tools fetch it to build clients
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/api/things"]["post"]
    assert post["summary"] == "Make a thing"
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"name", "size"}
    params = {p["name"]: p["in"] for p in doc["paths"]["/api/things/{name}"]["get"]["parameters"]}
    assert params == {"name": "path", "verbose": "query"}
