"""Flask-SSE equivalent (Flask + redis pub/sub, served by gunicorn's gevent worker).

flask-sse is not packaged in Debian and PyPI is out of reach here, so this is the same design
in a few lines (after flask_sse.py, singingwolfboy/flask-sse): every stream holds its own Redis
pub/sub subscription to its channel; a publish is `PUBLISH channel json({"data", "type", "id",
"retry"})`; each message becomes `event:`/`data:`/`id:`/`retry:` lines, `data` split into lines.

Differences from flask-sse, both needed for a benchmark to measure it:
- a `:` comment is sent once the SUBSCRIBE is confirmed. flask-sse sends nothing until the first
  message, and WSGI servers send the response headers with the first body chunk, so a subscriber
  would not see `200 text/event-stream` (nor know it is subscribed) before the first event;
- POST /publish?channel=X takes the raw body as the event's data (flask-sse leaves the publish
  route to the application; this is the shortest one).

Like flask-sse: no heartbeat, no Last-Event-ID replay. Redis: REDIS_URL (default 127.0.0.1:6379).
"""
import json
import os

import redis
from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)
client = redis.Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")


def sse_text(message):
    data = message["data"] if isinstance(message["data"], str) else json.dumps(message["data"])
    lines = ["data:" + line for line in data.splitlines()]
    if message.get("type"):
        lines.insert(0, "event:%s" % message["type"])
    if message.get("id"):
        lines.append("id:%s" % message["id"])
    if message.get("retry"):
        lines.append("retry:%s" % message["retry"])
    return "\n".join(lines) + "\n\n"


@app.get("/events")
def stream():
    pubsub = client.pubsub()
    pubsub.subscribe(request.args.get("channel") or "sse")

    @stream_with_context
    def events():
        try:
            for item in pubsub.listen():
                if item["type"] == "subscribe":
                    yield ":\n\n"
                elif item["type"] == "message":
                    yield sse_text(json.loads(item["data"]))
        finally:
            pubsub.close()

    return Response(events(), mimetype="text/event-stream")


@app.post("/publish")
def publish():
    message = {"data": request.get_data(as_text=True)}
    client.publish(request.args.get("channel") or "sse", json.dumps(message))
    return "ok\n"
