#!/usr/bin/env python3
"""A TCP proxy between ZooKeeper clients and a server that breaks one thing
on purpose, so a compat suite can show its checks are able to fail.

usage: fault_proxy.py LISTEN_PORT_FILE UPSTREAM_PORT FAULT
  FAULT = drop-watches : server->client frames with xid -1 (watch
          notifications) are dropped; everything else passes unchanged.
The proxy binds 127.0.0.1:0 and writes its port to LISTEN_PORT_FILE.
"""
import asyncio
import struct
import sys


async def pump_frames(reader, writer, fault):
    """Copies length-prefixed frames, dropping the ones the fault names."""
    first = True
    try:
        while True:
            head = await reader.readexactly(4)
            (length,) = struct.unpack(">i", head)
            body = await reader.readexactly(length) if length > 0 else b""
            # The first frame is the ConnectResponse: it has no xid.
            if not first and fault == "drop-watches" and len(body) >= 4:
                (xid,) = struct.unpack(">i", body[:4])
                if xid == -1:
                    continue
            first = False
            writer.write(head + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def pump_bytes(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main():
    port_file, upstream, fault = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            pump_bytes(client_r, server_w),
            pump_frames(server_r, client_w, fault),
        )

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(port))
    import os
    os.rename(port_file + ".tmp", port_file)
    async with srv:
        await srv.serve_forever()


asyncio.run(main())
