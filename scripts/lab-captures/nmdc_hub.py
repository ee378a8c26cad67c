#!/usr/bin/python3
"""A minimal NMDC hub for the capture lab (Debian has no NMDC hub; uhub is ADC only).

Usage: nmdc_hub.py ADDR PORT

Enough of the protocol for clients to log in, see each other, search and connect: $Lock/$Key,
$ValidateNick/$Hello, $MyINFO broadcast, $GetNickList/$NickList, $Search broadcast, $SR relayed
to the searching nick (passive results), $ConnectToMe/$RevConnectToMe forwarded, chat broadcast.
No keys are checked and no passwords asked: it serves a lab, never a network.
"""
import asyncio
import sys

clients = {}  # nick -> writer
infos = {}  # nick -> $MyINFO command


def send(w, data):
    try:
        w.write(data.encode("latin-1"))
    except Exception:
        pass


async def handle(reader, writer):
    nick = None
    send(writer, "$Lock EXTENDEDPROTOCOL_weirlab_hub Pk=weirlabhub|$HubName weir lab|")
    buf = b""
    try:
        while True:
            chunk = await reader.read(4096)
            if not chunk:
                break
            buf += chunk
            while b"|" in buf:
                raw, buf = buf.split(b"|", 1)
                cmd = raw.decode("latin-1")
                if cmd.startswith("$ValidateNick "):
                    nick = cmd.split(" ", 1)[1]
                    clients[nick] = writer
                    send(writer, "$Supports NoHello NoGetINFO|$Hello " + nick + "|")
                elif cmd.startswith("$MyINFO $ALL "):
                    n = cmd.split(" ")[2]
                    infos[n] = cmd
                    for w in clients.values():
                        send(w, cmd + "|")
                    if n == nick:
                        for other, info in infos.items():
                            if other != nick:
                                send(writer, info + "|")
                elif cmd == "$GetNickList":
                    send(writer, "$NickList " + "".join(n + "$$" for n in clients) + "|")
                elif cmd.startswith("$Search "):
                    for n, w in clients.items():
                        if n != nick:
                            send(w, cmd + "|")
                elif cmd.startswith("$SR "):
                    # Passive result: the last field (after the final 0x05) names the searcher.
                    target = cmd.rsplit("\x05", 1)[-1]
                    if target in clients:
                        send(clients[target], cmd.rsplit("\x05", 1)[0] + "|")
                elif cmd.startswith("$ConnectToMe ") or cmd.startswith("$RevConnectToMe "):
                    parts = cmd.split(" ")
                    target = parts[2] if cmd.startswith("$RevConnectToMe ") else parts[1]
                    if target in clients:
                        send(clients[target], cmd + "|")
                elif cmd.startswith("<"):
                    for w in clients.values():
                        send(w, cmd + "|")
            await writer.drain()
    finally:
        if nick and clients.get(nick) is writer:
            del clients[nick]
            infos.pop(nick, None)
            for w in clients.values():
                send(w, "$Quit " + nick + "|")
        writer.close()


async def main():
    server = await asyncio.start_server(handle, sys.argv[1], int(sys.argv[2]))
    print(f"nmdc hub on {sys.argv[1]}:{sys.argv[2]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
