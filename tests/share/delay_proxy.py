#!/usr/bin/env python3
"""A TCP relay that delays every byte by DELAY ms in each direction (the
kernel here has no netem), for measuring round trips as a real network
would show them.

  delay_proxy.py LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MS STATS_FILE

STATS_FILE is rewritten after every change with one JSON object:
  connections: accepted so far;
  turns: client flights that followed server data (each is one round trip
         the client had to wait for), plus one per connection for the TCP
         handshake.
Bytes keep their order and timing within a direction; nothing is parsed.
"""
import asyncio
import json
import os
import sys

listen_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
delay = float(sys.argv[4]) / 1000.0
stats_file = sys.argv[5]
stats = {"connections": 0, "turns": 0}


def save():
    tmp = stats_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, stats_file)


async def pump(reader, writer, on_data):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def sender():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            on_data()
            await queue.put((loop.time() + delay, data))
    except OSError:
        pass
    await queue.put((loop.time() + delay, None))
    await task


async def handle(cr, cw):
    stats["connections"] += 1
    stats["turns"] += 1
    save()
    # What a real path costs before the greeting arrives: SYN, SYN-ACK and
    # ACK (the server accepts on the ACK, 1.5 round trips), then the
    # greeting's own half round trip (added by the pump below).
    await asyncio.sleep(3 * delay)
    try:
        sr, sw = await asyncio.open_connection(host, port)
    except OSError:
        cw.close()
        return
    state = {"server_spoke": False}

    def client_sent():
        if state["server_spoke"]:
            stats["turns"] += 1
            state["server_spoke"] = False
            save()

    def server_sent():
        state["server_spoke"] = True

    await asyncio.gather(pump(cr, sw, client_sent), pump(sr, cw, server_sent))
    for w in (cw, sw):
        try:
            w.close()
        except OSError:
            pass


async def main():
    save()
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
