#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol for the HTML report tests.

    devtools.py STEPS.json

Starts Debian's chromium headless with every network path closed (as HeadlessChromium.swift
does), opens one page and runs the steps in order; prints one JSON object: "results" (one
per step) and "errors" (exceptions thrown and errors logged by the page). Steps:
    {"navigate": URL}                        load URL and wait for body[data-ready]
    {"eval": JS}                             the expression's value
    {"key": "j"}                             press and release a key (j k / Enter Escape)
    {"wheel": SELECTOR, "deltaY": N}         a mouse wheel turn over the element's centre
    {"drag": SELECTOR, "dx": N}              press, move by dx and release over it
    {"media": "print"}                       emulate a media type ("" for none)
    {"scheme": "dark"}                       emulate prefers-color-scheme ("" for none)
    {"screenshot": PATH}                     the viewport as PNG; its byte count
    {"pdf": PATH}                            print to PDF; its byte count
Bounded: 60 s in all. Uses `websockets` from the repository's .venv.
"""

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from websockets.asyncio.client import connect

KEYS = {
    "j": ("KeyJ", 74, "j"), "k": ("KeyK", 75, "k"), "/": ("Slash", 191, "/"),
    "Enter": ("Enter", 13, "\r"), "Escape": ("Escape", 27, ""),
}


class Page:
    def __init__(self, ws, session):
        self.ws, self.session, self.next_id = ws, session, 0
        self.pending: dict[int, asyncio.Future] = {}
        self.errors: list[str] = []

    async def pump(self):
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.pending:
                self.pending.pop(message["id"]).set_result(message)
            elif message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
            elif message.get("method") == "Runtime.consoleAPICalled" and message["params"]["type"] == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in message["params"]["args"]))

    async def send(self, method, params=None, session=True):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        await self.ws.send(json.dumps(message))
        answer = await future
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def eval(self, expression):
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def centre(self, selector):
        box = await self.eval(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                              " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        return box[0], box[1]

    async def step(self, step):
        if "navigate" in step:
            await self.send("Page.navigate", {"url": step["navigate"]})
            for _ in range(200):
                if await self.eval("document.readyState === 'complete' && document.body && document.body.dataset.ready === '1'"):
                    return True
                await asyncio.sleep(0.05)
            raise RuntimeError("the page never became ready")
        if "eval" in step:
            return await self.eval(step["eval"])
        if "key" in step:
            code, vk, text = KEYS[step["key"]]
            down = {"type": "keyDown", "key": step["key"], "code": code, "windowsVirtualKeyCode": vk}
            if text:
                down["text"] = text
            await self.send("Input.dispatchKeyEvent", down)
            await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": step["key"], "code": code, "windowsVirtualKeyCode": vk})
            return True
        if "wheel" in step:
            x, y = await self.centre(step["wheel"])
            await self.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": step["deltaY"]})
            return True
        if "drag" in step:
            x, y = await self.centre(step["drag"])
            await self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1})
            await self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + step["dx"], "y": y, "button": "left", "buttons": 1})
            await self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": x + step["dx"], "y": y, "button": "left", "buttons": 0, "clickCount": 1})
            return True
        if "media" in step:
            await self.send("Emulation.setEmulatedMedia", {"media": step["media"]})
            return True
        if "scheme" in step:
            await self.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": step["scheme"]}]})
            return True
        if "screenshot" in step:
            data = base64.b64decode((await self.send("Page.captureScreenshot", {"format": "png"}))["data"])
        elif "pdf" in step:
            data = base64.b64decode((await self.send("Page.printToPDF", {"printBackground": False}))["data"])
        else:
            raise RuntimeError(f"unknown step {step}")
        with open(step.get("screenshot") or step["pdf"], "wb") as out:
            out.write(data)
        return len(data)


async def run(steps, profile):
    browser = subprocess.Popen(
        ["chromium", "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--hide-scrollbars",
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
         "--window-size=1280,900", "--remote-debugging-port=0", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        async with asyncio.timeout(60):
            address = None
            loop = asyncio.get_running_loop()
            while address is None:
                line = (await loop.run_in_executor(None, browser.stderr.readline)).decode(errors="replace")
                if not line:
                    raise RuntimeError("chromium ended before it listened for DevTools")
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                address = found and found.group(1)
            async with connect(address, max_size=None) as ws:
                page = Page(ws, None)
                pump = asyncio.create_task(page.pump())
                target = (await page.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
                page.session = (await page.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
                for method in ("Page.enable", "Runtime.enable"):
                    await page.send(method)
                await page.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
                results = []
                for step in steps:
                    results.append(await page.step(step))
                    await asyncio.sleep(0.05)
                pump.cancel()
                return {"results": results, "errors": page.errors}
    finally:
        browser.terminate()
        try:
            browser.wait(5)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()


def main():
    with open(sys.argv[1]) as source:
        steps = json.load(source)
    profile = tempfile.mkdtemp(prefix="wsdoctor-devtools-")
    try:
        print(json.dumps(asyncio.run(run(steps, profile))))
    finally:
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
