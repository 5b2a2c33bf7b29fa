"""Benchmark: WebSocket fan-out latency with N clients on /api/events while a job renders.

Each measured event is caused by the benchmark itself (cancel, then retry, of a queued job), so its
origin time is known on this machine's clock: latency = receipt time - request time, per client.
Usage: python3 bench/ws_fanout.py BASE_URL UPLOAD_ID [CLIENTS] [ROUNDS]
"""
import asyncio, json, statistics, sys, time, urllib.request

import websockets

base, upload = sys.argv[1], sys.argv[2]
clients = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 40


def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body else None,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


async def listen(ws, marks, lat, ready):
    ready.set()
    async for msg in ws:
        ev = json.loads(msg)
        if ev.get("type") == "job_state" and ev["job"] in marks:
            t0 = marks[ev["job"]].get(ev["state"])
            if t0 is not None:
                lat.append(time.perf_counter() - t0)


async def main():
    # A long job keeps the workers busy; a second one waits in the queue and is toggled.
    call("POST", "/api/jobs", {"input": upload, "output": {"preset": "slow"}, "chunk_seconds": 2})
    queued = call("POST", "/api/jobs", {"input": upload, "output": {"preset": "slow"}})["id"]
    marks = {queued: {}}
    lat = []
    ws_url = base.replace("http://", "ws://") + "/api/events"
    socks = [await websockets.connect(ws_url, max_size=None) for _ in range(clients)]
    readies = [asyncio.Event() for _ in socks]
    tasks = [asyncio.create_task(listen(ws, marks, lat, r)) for ws, r in zip(socks, readies)]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.sleep(1.0)
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        marks[queued]["cancelled"] = time.perf_counter()
        await loop.run_in_executor(None, call, "DELETE", f"/api/jobs/{queued}")
        await asyncio.sleep(0.05)
        marks[queued]["queued"] = time.perf_counter()
        await loop.run_in_executor(None, call, "POST", f"/api/jobs/{queued}/retry")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    for t in tasks:
        t.cancel()
    expected = clients * rounds * 2
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    print(f"{clients} WebSocket clients, {rounds * 2} events each, {len(lat)}/{expected} deliveries measured")
    print(f"fan-out latency (request sent -> event received): p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, max {lat[-1]*1000:.1f} ms")


asyncio.run(main())
