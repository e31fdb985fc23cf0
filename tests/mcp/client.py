"""Drives `rootcause mcp` with the official MCP Python SDK (`mcp` on PyPI).

Run by tests/mcp.rs; each mode prints one JSON line of figures and exits
non-zero (with the reason on stderr) when a check fails.

    client.py stdio BIN
    client.py http URL_A URL_B          two servers sharing a session key
    client.py load URL SESSIONS CALLS   concurrent sessions against one server
    client.py transcript BIN            a session as Markdown, for docs/chatbots.md
"""

import asyncio
import json
import sys
import time

from mcp import Client
from mcp.client.stdio import StdioServerParameters

TOOLS = {"start_diagnosis", "answer", "report_fix", "explain", "history", "fix_details", "decode_error"}
CREDSSP = (
    "An authentication error has occurred. The function requested is not supported. "
    "Remote computer: rdp01. This could be due to CredSSP encryption oracle remediation."
)
MAX_ANSWER = 2048


def check(ok, what):
    if not ok:
        raise AssertionError(what)


def sizes(r):
    text = sum(len(c.text.encode()) for c in r.content if getattr(c, "text", None))
    structured = len(json.dumps(r.structured_content, separators=(",", ":")).encode()) if r.structured_content else 0
    return text, structured


async def call(c, name, args, biggest=None):
    r = await c.call_tool(name, args)
    if biggest is not None and not r.is_error:
        t, s = sizes(r)
        biggest["text"] = max(biggest["text"], t)
        biggest["structured"] = max(biggest["structured"], s)
    return r


async def diagnose_to_verified_fix(c, biggest):
    """Paste the CredSSP error, follow the advice, report the fix worked, verify it."""
    r = await call(c, "start_diagnosis", {"text": CREDSSP}, biggest)
    check(not r.is_error, f"start_diagnosis failed: {r.content}")
    d = r.structured_content
    extracted = {e["evidence"] for e in d.get("extracted", [])}
    check("credssp_error_shown" in extracted, f"the pasted CredSSP text gave {extracted}")
    check(d["ranking"][0]["cause"] == "credssp_oracle_mismatch", f"top cause {d['ranking'][0]}")
    check("session: rc1." in r.content[0].text, "the text for the model carries the session")
    steps = 0
    expect = {}
    while not d["done"] and steps < 30:
        steps += 1
        advice = d["advice"]
        if advice["step"] == "try_fix":
            fix = advice["fix"]
            details = await call(c, "fix_details", {"fix": fix})
            check(not details.is_error and details.structured_content["steps"], f"fix_details {fix}")
            expect = details.structured_content.get("verify_expect") or {}
            r = await call(c, "report_fix", {"session": d["session"], "fix": fix, "worked": fix == "patch_credssp_both_sides"}, biggest)
        elif advice["step"] == "ask" and d["next"]:
            ev = d["next"]["evidence"]
            value = expect.get(ev, "unknown")
            r = await call(c, "answer", {"session": d["session"], "evidence": ev, "value": value}, biggest)
        else:
            break
        check(not r.is_error, f"step {steps} failed: {r.content}")
        d = r.structured_content
    check(d.get("done_reason") == "verified", f"ended with {d.get('done_reason')} after {steps} steps: {d['advice']}")
    check(d.get("verified_fix") == "patch_credssp_both_sides", f"verified {d.get('verified_fix')}")
    return d["session"], steps


async def refusals(c):
    """Bad arguments, forged and truncated tokens, unknown ids: tool errors, never a crash."""
    start = await c.call_tool("start_diagnosis", {})
    token = start.structured_content["session"]
    cases = [
        ("answer", {"session": token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"), "evidence": "host_os", "value": "windows_server"}, "bad_session"),
        ("answer", {"session": token[: len(token) // 2], "evidence": "host_os", "value": "windows_server"}, "bad_session"),
        ("answer", {"session": "rc1.eyJ2IjoiOS45In0.AAAAAAAAAAAAAAAAAAAAAA", "evidence": "host_os", "value": "windows_server"}, "bad_session"),
        ("answer", {"session": "x" * 70000, "evidence": "host_os", "value": "windows_server"}, "too_large"),
        ("answer", {"session": token, "evidence": "no_such_evidence", "value": "yes"}, "unknown_evidence"),
        ("answer", {"session": token, "evidence": "host_os", "value": "maybe"}, "bad_value"),
        ("answer", {"session": token}, "bad_request"),
        ("answer", {"evidence": "host_os", "value": "yes"}, "bad_request"),
        ("report_fix", {"session": token, "fix": "no_such_fix", "worked": True}, "unknown_fix"),
        ("report_fix", {"session": token, "fix": "regenerate_rdp_certificate", "worked": "perhaps"}, "bad_request"),
        ("fix_details", {"fix": "no_such_fix"}, "unknown_fix"),
        ("decode_error", {"code": "zz"}, "bad_value"),
        ("explain", {"session": token, "cause": "no_such_cause"}, "unknown_cause"),
        ("start_diagnosis", {"kb": "other-kb"}, "unknown_kb"),
        ("start_diagnosis", {"target": "127.0.0.1:3389"}, "not_allowed"),
        ("history", {"session": token}, "no_history"),
    ]
    for name, args, code in cases:
        r = await c.call_tool(name, args)
        text = " ".join(getattr(x, "text", "") for x in r.content)
        check(r.is_error and code in text, f"{name} {list(args)}: expected {code}, got {r.is_error} {text[:200]}")
    return len(cases)


async def history(c):
    """A session that keeps its history: the story for a ticket, as points and a chart."""
    r = await c.call_tool("start_diagnosis", {"text": CREDSSP, "history": True})
    d = r.structured_content
    r = await c.call_tool("answer", {"session": d["session"], "evidence": "connection_path", "value": "lan"})
    d = r.structured_content
    r = await c.call_tool("report_fix", {"session": d["session"], "fix": "update_remote_desktop_client", "worked": False})
    r = await c.call_tool("history", {"session": r.structured_content["session"]})
    check(not r.is_error, f"history: {r.content}")
    labels = [p["label"] for p in r.structured_content["history"]["points"]]
    check(labels[0] == "start" and labels[-1] == "fix update_remote_desktop_client failed" and len(labels) == 5, f"history points {labels}")
    check(r.structured_content["chart_svg"].startswith("<svg"), "the chart")


async def other_tools(c, token):
    r = await c.call_tool("explain", {"session": token, "cause": "credssp_oracle_mismatch"})
    check(not r.is_error and r.structured_content["kind"] == "cause", f"explain cause: {r.content}")
    check(any(x["finding"] == "credssp_error_shown" for x in r.structured_content["how"]["contributions"]), "explain names the pasted fact")
    r = await c.call_tool("explain", {"session": token, "evidence": "connection_path"})
    check(not r.is_error and r.structured_content["kind"] == "question", f"explain question: {r.content}")
    r = await c.call_tool("decode_error", {"code": "0x904", "extended": "0x7"})
    check(not r.is_error and r.structured_content["known"] and r.structured_content["causes"], f"decode: {r.content}")
    await history(c)
    resources = await c.list_resources()
    uris = {str(x.uri) for x in resources.resources}
    check("rootcause://docs/chatbots.md" in uris, f"resources {uris}")
    body = await c.read_resource("rootcause://kb/rdp-0x904/causes")
    check("credssp_oracle_mismatch" in body.contents[0].text, "the causes resource lists the causes")
    prompts = await c.list_prompts()
    check([p.name for p in prompts.prompts] == ["troubleshoot_rdp"], "one prompt")
    p = await c.get_prompt("troubleshoot_rdp", {"symptom": "0x904"})
    check("start_diagnosis" in p.messages[0].content.text, "the prompt explains the tools")


async def check_tools(c, probe=False):
    tools = await c.list_tools()
    names = {t.name for t in tools.tools}
    want = TOOLS | ({"probe_rdp"} if probe else set())
    check(names == want, f"tools {sorted(names)}")
    for t in tools.tools:
        check(t.input_schema.get("type") == "object" and t.output_schema and t.output_schema.get("type") == "object", f"schemas of {t.name}")


async def stdio(binary):
    figures = {}
    biggest = {"text": 0, "structured": 0}
    params = StdioServerParameters(command=binary, args=["mcp"], env={"ROOTCAUSE_SESSION_KEY": "stdio-test-key-0123456789"})
    async with Client(params) as c:
        await check_tools(c)
        token, steps = await diagnose_to_verified_fix(c, biggest)
        await other_tools(c, token)
        figures["refusals"] = await refusals(c)
    # A server that may probe one address refuses every other target.
    params = StdioServerParameters(command=binary, args=["mcp", "--allow-probe", "192.0.2.7"], env={"ROOTCAUSE_SESSION_KEY": "stdio-test-key-0123456789"})
    async with Client(params) as c:
        await check_tools(c, probe=True)
        r = await c.call_tool("probe_rdp", {"target": "127.0.0.1:3389"})
        text = r.content[0].text
        check(r.is_error and "not_allowed" in text and "192.0.2.7" in text, f"probe outside the list: {text}")
    figures.update(steps=steps, max_text_bytes=biggest["text"], max_structured_bytes=biggest["structured"])
    check(biggest["text"] <= MAX_ANSWER and biggest["structured"] <= MAX_ANSWER, f"answers too large: {biggest}")
    return figures


async def http(url_a, url_b):
    """One session, calls alternating between two processes: identical answers."""
    async with Client(url_a) as a, Client(url_b) as b:
        await check_tools(a)
        biggest = {"text": 0, "structured": 0}
        token, steps = await diagnose_to_verified_fix(a, biggest)
        await other_tools(b, token)
        refused = await refusals(b)
        r = await a.call_tool("start_diagnosis", {"observations": {"connection_path": "gateway"}})
        token = r.structured_content["session"]
        answers = [("intermediary_reports_error", "unknown"), ("works_bypassing_path", "yes"), ("host_os", "windows_server")]
        for i, (ev, v) in enumerate(answers):
            first, second = (a, b) if i % 2 == 0 else (b, a)
            ra = await first.call_tool("answer", {"session": token, "evidence": ev, "value": v})
            rb = await second.call_tool("answer", {"session": token, "evidence": ev, "value": v})
            check(not ra.is_error and ra.structured_content == rb.structured_content, f"the two processes differ after {ev}")
            token = ra.structured_content["session"]
    return {"steps": steps, "refusals": refused, "alternated": len(answers)}


async def load(url, sessions, calls):
    """`sessions` concurrent clients, each one session of `calls` tool calls."""
    latencies = []
    errors = []

    async def one(i):
        async with Client(url) as c:
            t = time.perf_counter()
            r = await c.call_tool("start_diagnosis", {"observations": {"connection_path": ["lan", "vpn", "gateway", "internet"][i % 4]}})
            latencies.append(time.perf_counter() - t)
            if r.is_error:
                errors.append(r.content[0].text)
                return
            d = r.structured_content
            for _ in range(calls - 1):
                if d["next"] is None:
                    args = ("explain", {"session": d["session"]})
                else:
                    values = list(d["next"]["answers"]) + ["unknown"]
                    args = ("answer", {"session": d["session"], "evidence": d["next"]["evidence"], "value": values[i % len(values)]})
                t = time.perf_counter()
                r = await c.call_tool(*args)
                latencies.append(time.perf_counter() - t)
                if r.is_error:
                    errors.append(r.content[0].text)
                    return
                if args[0] == "answer":
                    d = r.structured_content

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    wall = time.perf_counter() - t
    latencies.sort()
    n = len(latencies)
    check(not errors, f"{len(errors)} errors, first: {errors[:1]}")
    check(n == sessions * calls, f"{n} calls answered of {sessions * calls}")
    return {
        "sessions": sessions,
        "calls": n,
        "errors": len(errors),
        "wall_s": round(wall, 2),
        "p50_ms": round(latencies[n // 2] * 1e3, 1),
        "p99_ms": round(latencies[min(n - 1, n * 99 // 100)] * 1e3, 1),
    }


async def transcript(binary):
    """A real session for docs/chatbots.md, as Markdown: each call and the text the model reads."""
    event = (
        "Log Name: System\nSource: Schannel\nEvent ID: 36870\nLevel: Error\n"
        "Description: A fatal error occurred when attempting to access the TLS server credential "
        "private key. The error code returned from the cryptographic module is 0x8009030D."
    )
    answers = {"connection_path": "lan", "other_clients_can_connect": "no"}
    lines = []

    def show(name, args, r):
        shown = {k: (v[:20] + "…" if k == "session" else v) for k, v in args.items()}
        lines.append(f"**→ `{name}`** `{json.dumps(shown, ensure_ascii=False)}`\n")
        lines.append("```text\n" + r.content[0].text.rstrip() + "\n```\n")

    params = StdioServerParameters(command=binary, args=["mcp"], env={"ROOTCAUSE_SESSION_KEY": "transcript-key-0123456789"})
    async with Client(params) as c:
        args = {"text": event}
        r = await c.call_tool("start_diagnosis", args)
        show("start_diagnosis", args, r)
        d, expect = r.structured_content, {}
        for _ in range(12):
            if d["done"]:
                break
            if d["advice"]["step"] == "try_fix":
                fix = d["advice"]["fix"]
                args = {"fix": fix}
                r = await c.call_tool("fix_details", args)
                show("fix_details", args, r)
                expect = r.structured_content.get("verify_expect") or {}
                args = {"session": d["session"], "fix": fix, "worked": fix == "reset_machinekeys_permissions"}
                r = await c.call_tool("report_fix", args)
            else:
                ev = d["next"]["evidence"]
                args = {"session": d["session"], "evidence": ev, "value": expect.get(ev, answers.get(ev, "unknown"))}
                r = await c.call_tool("answer", args)
            show(args.get("fix") and "report_fix" or "answer", args, r)
            d = r.structured_content
    return "\n".join(lines)


def main():
    mode = sys.argv[1]
    if mode == "transcript":
        print(asyncio.run(transcript(sys.argv[2])))
        return
    if mode == "stdio":
        out = asyncio.run(stdio(sys.argv[2]))
    elif mode == "http":
        out = asyncio.run(http(sys.argv[2], sys.argv[3]))
    elif mode == "load":
        out = asyncio.run(load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        sys.exit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"check failed: {e}", file=sys.stderr)
        sys.exit(1)
