#!/usr/bin/env python3
"""The web page in a real browser: Debian's Chromium, headless, driven by selenium through
Debian's chromedriver, against the real binary that tests/web.rs started.

Usage: browser.py --base http://127.0.0.1:PORT --tokens tokens.json --shots DIR
       browser.py --base … --tokens … --bench N     (the national view's load time, N runs)

tokens.json: {"reader": "...", "reporter": "... (MK01)", "admin": "..."}.

Every check that fails is printed; the exit status is 1 if any did. What is checked:
- each view renders (data-state="ready") with no console error (a CSP violation is one) and
  axe-core finds no serious or critical WCAG 2.1 AA violation; a screenshot of each is written;
- the map draws 19 regions on the latest borders and 20 on the 2006 borders, and the value on
  each area is the API's;
- "as of" an earlier date shows the figure then known, not today's;
- an upload with a bad row lists that row's line and column and records nothing; a good one is
  recorded, its receipt shown, and the figure appears; a reader's token cannot upload;
- text a client submitted (a source, a note) that holds HTML or script is shown as text;
- the page is served with a Content-Security-Policy without inline script.
"""
import argparse
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium_axe_python import Axe

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# WCAG 2.1 A and AA: the level the Act on the Provision of Digital Services (306/2019) asks.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# A view has this long to fetch its figures and draw (the demo store on two loaded cores).
READY_SECONDS = 60

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return ok


def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: install Debian's chromium and chromium-driver "
                     "(.ci/run does)")
    opts = Options()
    opts.binary_location = CHROMIUM
    # As root in a container, without a GPU, and with no background traffic: this machine's
    # network is closed, and Chromium's own connections would be refused.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic",
                 "--window-size=1280,1400", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Selenium Manager would look for a driver online: the driver is given.
    os.environ["SE_OFFLINE"] = "true"
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class Page:
    def __init__(self, base, tokens):
        self.base = base.rstrip("/")
        self.tokens = tokens
        self.d = browser()

    def api(self, path, token="admin", method="GET", body=None, params=None):
        """An answer of the API, as the page's own requests get it: (status, JSON)."""
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Accept", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + self.tokens[token])
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def set_token(self, role):
        """Gives the page a token, as a person does in its access form."""
        d = self.d
        self.open("national")
        d.find_element(By.ID, "access").click()
        box = d.find_element(By.ID, "token")
        box.clear()
        box.send_keys(self.tokens[role])
        d.find_element(By.ID, "token-save").click()

    def open(self, route):
        # A change of the address's fragment does not reload the page: the view's state is
        # cleared first, so that the previous view's "ready" is not taken for this one's.
        self.d.execute_script(
            "const v = document.getElementById('view'); if (v) v.dataset.state = 'navigating';")
        self.d.get(self.base + "/#/" + route)
        return self.ready()

    def ready(self):
        """Waits until the view says it is ready (or failed): its state."""
        try:
            WebDriverWait(self.d, READY_SECONDS).until(
                lambda d: d.find_element(By.ID, "view").get_attribute("data-state")
                in ("ready", "error"))
        except TimeoutException:
            pass
        return self.d.find_element(By.ID, "view").get_attribute("data-state")

    def console_errors(self):
        return [e for e in self.d.get_log("browser") if e.get("level") == "SEVERE"]

    def axe(self, what):
        axe = Axe(self.d)
        axe.inject()
        results = axe.run(options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        bad = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        check(not bad, f"{what}: axe-core finds {len(bad)} serious or critical WCAG 2.1 AA "
              "violations: " + "; ".join(
                  f"{v['id']} ({v['impact']}): {v['help']} at "
                  + ", ".join(n["target"][0] if isinstance(n["target"][0], str)
                              else str(n["target"][0]) for n in v["nodes"][:3])
                  for v in bad))

    def q(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)


def views(p, shots):
    """Every view: renders, no console error, no serious accessibility violation; a
    screenshot of each, in each language for the national view."""
    p.d.get_log("browser")  # what came before is not the views'
    routes = [
        ("national", "national?year=2019&lang=en"),
        ("national-fi", "national?year=2019&lang=fi"),
        ("national-sv", "national?year=2019&lang=sv"),
        ("map", "map?year=2019&indicator=natural_increase&borders=own&lang=en"),
        ("map-municipalities", "map?year=2020&indicator=population&level=municipality&lang=fi"),
        ("map-2006", "map?year=2007&indicator=population&borders=2008&lang=sv"),
        ("map-2006-municipalities",
         "map?year=2007&indicator=population&borders=2008&level=municipality&lang=en"),
        ("area", "area?area=MK01&year=2019&borders=own&lang=en"),
        ("round", "round?year=2023&lang=en"),
        ("upload", "upload?lang=en"),
    ]
    for name, route in routes:
        state = p.open(route)
        check(state == "ready", f"{name}: the view is {state!r}, not ready")
        errors = p.console_errors()
        check(not errors, f"{name}: console errors: {[e['message'][:300] for e in errors]}")
        check(p.d.find_element(By.TAG_NAME, "html").get_attribute("lang") == (
            route.split("lang=")[1][:2]), f"{name}: the page's language is its lang")
        p.axe(name)
        p.d.save_screenshot(os.path.join(shots, f"{name}.png"))


def drawn_values(p):
    """The map's areas: code → the value it carries ('' for none)."""
    return {e.get_attribute("data-code"): e.get_attribute("data-value")
            for e in p.q("svg#map path.area")}


def same_number(a, b):
    if b is None:
        return a in ("", None)
    return a not in ("", None) and abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(b))


def map_matches_api(p):
    """19 regions on the latest borders, 20 on the 2006 and 2008 borders, each with the
    API's figure."""
    for year, borders, indicator, regions in ((2019, "own", "natural_increase", 19),
                                              (2007, "2008", "population", 20)):
        state = p.open(f"map?year={year}&indicator={indicator}&borders={borders}")
        check(state == "ready", f"map {year} on {borders}: {state}")
        drawn = drawn_values(p)
        check(len(drawn) == regions,
              f"map {year} on {borders}: {len(drawn)} regions drawn, not {regions}")
        status, api = p.api(f"/v1/indicators/{indicator}/areas",
                            params={"year": year, "borders": borders})
        check(status == 200, f"the API's figures of {indicator} {year}: {status} {api}")
        if status != 200:
            continue
        known = {a["area"]: a["value"] for a in api["areas"]}
        check(sum(v is not None for v in known.values()) >= 10,
              f"map {year}: the API has figures to compare with")
        for code, value in drawn.items():
            check(same_number(value, known.get(code)),
                  f"map {year} on {borders}: {code} shows {value!r}, the API {known.get(code)!r}")
    state = p.open("map?year=2006&indicator=population&borders=2006")
    check(len(drawn_values(p)) == 20, f"map on the 2006 borders: {len(drawn_values(p))} regions")


def area_value(p, indicator, others=True):
    """The exact figure the area view shows for `indicator`: None when the view shows the
    area but no figure of it. `others`: the view lists other indicators (a view that did not
    draw its table is a failure)."""
    check(not others or bool(p.q("#area-table tr[data-indicator]")),
          f"the area view lists indicators ({p.d.current_url})")
    rows = p.q(f"#area-table tr[data-indicator='{indicator}']")
    if not rows:
        return None
    cell = rows[0].find_elements(By.CSS_SELECTOR, "[data-value]")
    return cell[0].get_attribute("data-value") if cell else None


def as_of(p):
    """The figure as published by an earlier date is the one then known: Uusimaa's natural
    increase of 2019, preliminary in January 2020, final a year later."""
    route = "area?area=MK01&year=2019&borders=own"
    check(p.open(route) == "ready", "the area view renders")
    now = area_value(p, "natural_increase")
    check(p.open(route + "&published_by=2020-06-30") == "ready", "the area view as of renders")
    then = area_value(p, "natural_increase")
    _, api_now = p.api("/v1/indicators/natural_increase/areas",
                       params={"year": 2019, "borders": "own"})
    _, api_then = p.api("/v1/indicators/natural_increase/areas",
                        params={"year": 2019, "borders": "own", "published_by": "2020-06-30"})
    pick = lambda a: next((x["value"] for x in a["areas"] if x["area"] == "MK01"), None)
    check(same_number(now, pick(api_now)), f"as of now: the page shows {now}, the API {pick(api_now)}")
    check(same_number(then, pick(api_then)),
          f"published by 2020-06-30: the page shows {then}, the API {pick(api_then)}")
    check(pick(api_now) != pick(api_then),
          "the 2019 figure was revised between the two releases (the check means something)")


HOSTILE_SOURCE = 'Council <script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
HOSTILE_NOTE = "<b>bold</b> & <i>note</i>"


def upload(p, workdir):
    """A bad file is refused by line and column and records nothing; a good one is recorded
    and shown; a reader cannot upload; what a client wrote is shown as text."""
    bad = os.path.join(workdir, "bad.csv")
    good = os.path.join(workdir, "good.csv")
    with open(bad, "w", encoding="utf-8") as f:
        f.write("region_code;indicator_id;year;value;status;source\n"
                "MK01;unemployment_rate_15_74;2024;7,5;final;Council\n"
                "MK01;unemployment_rate_15_74;2024x;7,5;final;Council\n")
    with open(good, "w", encoding="utf-8") as f:
        f.write("region_code,indicator_id,year,value,status,source,note\n"
                f'MK01,unemployment_rate_15_74,2024,7.25,provisional,"{HOSTILE_SOURCE.replace(chr(34), chr(34) * 2)}",'
                f'"{HOSTILE_NOTE}"\n')
    history = "/v1/regions/MK01/history/unemployment_rate_15_74/2024"
    _, before = p.api("/v1/regions", params={})
    seq_before = before["as_of_sequence"]

    def send(path, check_only):
        p.open("upload")
        p.d.find_element(By.ID, "upload-file").send_keys(path)
        p.d.find_element(By.ID, "upload-check").click()
        WebDriverWait(p.d, READY_SECONDS).until(
            lambda d: p.q("#upload-problems tr[data-line]") or p.q("#receipt")
            or p.q("#upload-result .error"))
        if not check_only and p.q("#upload-submit") and p.q("#upload-submit")[0].is_enabled():
            p.d.find_element(By.ID, "upload-submit").click()
            WebDriverWait(p.d, READY_SECONDS).until(
                lambda d: p.q("#receipt dd") or p.q("#upload-result .error"))

    # A reader's token: refused, nothing recorded.
    p.set_token("reader")
    send(good, check_only=False)
    text = p.d.find_element(By.ID, "upload-result").text
    check("403" in text or "permission" in text.lower() or "role" in text.lower(),
          f"a reader's upload is refused in words: {text[:300]!r}")
    _, after = p.api("/v1/regions", params={})
    check(after["as_of_sequence"] == seq_before, "a reader's upload recorded nothing")

    # The reporter of MK01: the bad row is named by line and column, nothing recorded.
    p.set_token("reporter")
    send(bad, check_only=True)
    rows = p.q("#upload-problems tr[data-line]")
    places = {(r.get_attribute("data-line"), r.get_attribute("data-column")) for r in rows}
    check(("3", "3") in places, f"the bad row's line 3, column 3 (year) is shown: {places}")
    check(not p.q("#upload-submit") or not p.d.find_element(By.ID, "upload-submit").is_enabled(),
          "a file with a problem cannot be submitted")
    _, after = p.api("/v1/regions", params={})
    check(after["as_of_sequence"] == seq_before, "the bad file recorded nothing")
    status, h = p.api(history, params={"format": "json-stat"})
    check(status == 200 and not (h or {}).get("value"),
          f"the cell has no history before the good file: {status} {str(h)[:300]}")

    # The same bad file posted to be recorded (not checked) is refused the same way, and
    # still records nothing; a reader's write is refused before its file is read.
    with open(bad, "rb") as f:
        body = f.read()
    status, answer = p.api("/v1/submissions", token="reporter", method="POST", body=body,
                           params={"validate_only": "false"})
    problems = {(x["line"], x["column"]) for x in (answer or {}).get("error", {}).get("problems", [])}
    check(status == 400 and (3, 3) in problems, f"a bad file to record: {status} {answer}")
    status, answer = p.api("/v1/submissions", token="reader", method="POST", body=body,
                           params={"validate_only": "false"})
    check(status == 403, f"a reader's file to record: {status} {answer}")
    _, after = p.api("/v1/regions", params={})
    check(after["as_of_sequence"] == seq_before, "neither recorded anything")

    # The good file: checked, submitted, its receipt shown, the figure recorded.
    send(good, check_only=False)
    recorded = p.q("#receipt[data-validate-only='false'] dd[data-field='rcRecorded']")
    region = p.q("#receipt[data-validate-only='false'] dd[data-field='rcRegion']")
    check(recorded and recorded[0].text == "1" and region and region[0].text == "MK01",
          f"the receipt of the recorded file is shown: {p.d.find_element(By.ID, 'upload-result').text[:300]!r}")
    status, h = p.api(history, params={"format": "json-stat"})
    check(status == 200 and 7.25 in (h.get("value") or []),
          f"the upload is recorded: {status} {str(h)[:300]}")

    # The figure appears, and its trail shows the hostile text as text.
    p.open("area?area=MK01&year=2024")
    check(same_number(area_value(p, "unemployment_rate_15_74"), 7.25),
          f"the area view shows the uploaded figure: {area_value(p, 'unemployment_rate_15_74')}")
    buttons = p.q("#area-table tr[data-indicator='unemployment_rate_15_74'] button.trail")
    if check(bool(buttons), "the figure has a trail button"):
        buttons[0].click()
        WebDriverWait(p.d, READY_SECONDS).until(lambda d: p.q("#trail td"))
        trail = p.d.find_element(By.ID, "trail")
        check(HOSTILE_SOURCE in trail.text, f"the source is shown as text: {trail.text[:400]!r}")
        check("<b>bold</b>" in trail.text, "the note is shown as text")
        check(not trail.find_elements(By.CSS_SELECTOR, "script, img, b, i"),
              "nothing a client wrote became markup")
    check(p.d.execute_script("return window.__xss === undefined"), "no submitted script ran")

    # As of the sequence before the upload (what was recorded then), the figure is not there.
    check(p.open(f"area?area=MK01&year=2024&as_of={seq_before}") == "ready",
          "the area view as of a sequence renders")
    check("Uusimaa" in p.d.find_element(By.ID, "view").text,
          "the area view as of a sequence is Uusimaa's")
    check(area_value(p, "unemployment_rate_15_74", others=False) in (None, ""),
          f"as of sequence {seq_before} the uploaded figure is not known: "
          f"{area_value(p, 'unemployment_rate_15_74', others=False)!r}")
    p.d.save_screenshot(os.path.join(os.environ.get("SHOTS", workdir), "trail.png"))


def served_securely(p):
    req = urllib.request.Request(p.base + "/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(req, timeout=30) as r:
        csp = r.headers.get("Content-Security-Policy", "")
        body = r.read().decode()
    check("script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp,
          f"the page's Content-Security-Policy allows no inline script: {csp!r}")
    check("<script>" not in body and " style=" not in body and "onclick" not in body,
          "the page holds no inline script or style")


def bench(p, runs):
    """The national view, from navigation to drawn, `runs` times: the first cold (nothing
    cached), the rest warm (the browser revalidates; the server answers 304). Beside it, the
    floor: the upload view, the same page and script with one small listing for figures."""
    out = {"runs": runs}
    for name, route in (("national", "national?year=2019"), ("floor_upload", "upload")):
        times = []
        for i in range(runs):
            p.d.get("about:blank")
            if i == 0 and name == "national":
                # Cold: nothing of the page or its answers in the browser's cache.
                p.d.execute_cdp_cmd("Network.clearBrowserCache", {})
            start = time.perf_counter()
            p.d.get(p.base + "/#/" + route)
            state = p.ready()
            times.append(time.perf_counter() - start)
            check(state == "ready", f"{name} run {i}: {state}")
        warm = sorted(times[1:])
        out[name] = {"cold_s": round(times[0], 3),
                     "warm_median_s": round(warm[len(warm) // 2], 3) if warm else None,
                     "warm_max_s": round(max(warm), 3) if warm else None}
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--shots")
    ap.add_argument("--bench", type=int)
    a = ap.parse_args()
    with open(a.tokens, encoding="utf-8") as f:
        tokens = json.load(f)
    p = Page(a.base, tokens)
    try:
        p.set_token("admin")
        if a.bench:
            bench(p, a.bench)
        else:
            os.makedirs(a.shots, exist_ok=True)
            os.environ["SHOTS"] = a.shots
            served_securely(p)
            views(p, a.shots)
            map_matches_api(p)
            as_of(p)
            upload(p, tempfile.mkdtemp())
    finally:
        p.d.quit()
    print(f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
