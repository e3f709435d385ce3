"""
An MCP session as a sequence diagram
====================================

A client of :mod:`fmref.agents.mcp` starts the fmref MCP server as a subprocess
(``python -m fmref.agents.mcp --serve``) and talks to it over stdio, one JSON-RPC
message per line. The session below is a real one: the handshake (``initialize``,
then ``notifications/initialized``), tool discovery (``tools/list``), a ReAct
loop whose calculator calls travel as ``tools/call`` (the first divides by zero
and comes back as a result with ``isError``), and a malformed line, which the
server answers with a JSON-RPC parse error and survives. Every arrow is a
message the client logged; requests and their responses share a colour.
"""

# %%
# Run the session
# ---------------
import sys

import matplotlib.pyplot as plt

from fmref.agents.mcp import MCPClient
from fmref.agents.parse import format_tool_call
from fmref.agents.react import ScriptedPolicy, run_agent

policy = ScriptedPolicy([
    format_tool_call("calculator", {"expression": "168 / 0"}),
    format_tool_call("calculator", {"expression": "168 / 12"}),
    "Answer: 14"])
with MCPClient([sys.executable, "-m", "fmref.agents.mcp", "--serve"]) as client:
    info = client.initialize()
    tools = client.registry(read_only=["calculator"])
    result = run_agent(policy, tools, "168 eggs in boxes of 12: how many boxes?")
    client.send_line('{"jsonrpc": "2.0", "id": 9, "method": "tools/call"')  # truncated
    client.receive()
    log = list(client.log)

print("negotiated protocol version:", info["protocolVersion"])
print("answer:", result.answer, "| observations:", [s.observation for s in result.steps])
for direction, message in log:
    print(direction, message)


# %%
# Draw it
# -------
# One row per message, top to bottom; arrows go right (client to server) or left.
def label(message):
    if "raw" in message:
        return "truncated line " + message["raw"][:24] + "..."
    if "method" in message:
        text = message["method"]
        if text == "tools/call":
            text += f"  {message['params']['arguments']['expression']}"
        return text + ("" if "id" in message else "  (notification)")
    if "error" in message:
        return f"error {message['error']['code']}: {message['error']['message'][:32]}"
    res = message["result"]
    if "tools" in res:
        return "tools: " + ", ".join(t["name"] for t in res["tools"])
    if "content" in res:
        return f"content '{res['content'][0]['text']}'" + ("  isError" if res["isError"] else "")
    return f"protocolVersion {res['protocolVersion']}, serverInfo {res['serverInfo']['name']}"


palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 6, 8, 9)]  # red is for errors
fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(log) + 1.2))
for x, name in [(0, "client (fmref.agents.mcp.MCPClient)"), (1, "server (subprocess, stdio)")]:
    ax.plot([x, x], [-0.5, len(log) - 0.3], color="0.6", lw=1)
    ax.text(x, -0.9, name, ha="center", va="bottom", fontsize=9, weight="bold")
for row, (direction, message) in enumerate(log):
    start, end = (0, 1) if direction == "send" else (1, 0)
    key = message.get("id")
    colour = palette[key % len(palette)] if isinstance(key, int) else "0.3"
    if "error" in message:
        colour = "crimson"
    ax.annotate("", xy=(end, row), xytext=(start, row),
                arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.4,
                            "linestyle": "--" if direction == "recv" else "-"})
    ax.text(0.5, row - 0.12, label(message), ha="center", va="bottom", fontsize=7.5,
            color=colour)
ax.set_xlim(-0.35, 1.35)
ax.set_ylim(len(log) - 0.2, -1.6)
ax.axis("off")
ax.set_title("A real MCP session over stdio: handshake, discovery, calls, a bad line",
             fontsize=10)
fig.tight_layout()
plt.show()
