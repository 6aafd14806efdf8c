"""Walks every branch of the activation flow in headless Chromium, as a buyer would, against the
real services: a purchase at the emulated marketplace, its landing URL opened, the reference
page (`/activate`) filled in, codes read from the development mailboxes, then the console's
log-in (`/login`). Asserts what the buyer sees at each step and, with --screenshots, saves one
PNG per step.

  browser_activation.py --emulator URL --landing URL --console-api URL --billing-api URL \
      --billing-mail DIR --console-mail DIR --lang en|zh [--screenshots DIR]

Prints one line per step and exits 0 when every branch ended activated."""

import argparse
import glob
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import (ElementNotInteractableException, NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

PATIENCE = 90
PASSWORD = "correct horse battery"

# What the page says, by language: the checks read the buyer's own words.
TEXT = {
    "en": {"activated": "Your subscription is active.", "signed_in": "Signed in as",
           "linked": "already linked", "fix": "Please correct the fields",
           "activating": "Activating your subscription"},
    "zh": {"activated": "您的订阅已激活。", "signed_in": "已登录", "linked": "已关联费用中心帐号",
           "fix": "请修改下方标出的字段", "activating": "正在向微软激活"},
}


class Buyer:
    def __init__(self, args):
        self.args = args
        self.words = TEXT[args.lang]
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1000,1300", f"--lang={'zh-CN' if args.lang == 'zh' else 'en-US'}"):
            options.add_argument(flag)
        service = webdriver.ChromeService(executable_path=args.chromedriver)
        self.driver = webdriver.Chrome(options=options, service=service)
        self.shots = 0

    def step(self, name):
        print(f"browser [{self.args.lang}] {name}", flush=True)
        if self.args.screenshots:
            self.shots += 1
            os.makedirs(self.args.screenshots, exist_ok=True)
            path = os.path.join(self.args.screenshots, f"{self.args.lang}-{self.shots:02d}-{name}.png")
            self.driver.save_screenshot(path)

    def wait(self, condition, what):
        # The page renders again whenever an answer arrives (sites, workspaces, the activation):
        # an element found a moment ago may have been replaced, which is no failure.
        try:
            return WebDriverWait(self.driver, PATIENCE, ignored_exceptions=(StaleElementReferenceException,)).until(
                condition)
        except TimeoutException:
            body = self.driver.find_element(By.TAG_NAME, "body").text
            raise AssertionError(f"{what}: not seen in {PATIENCE} s; the page shows:\n{body}")

    def act(self, by, value, action):
        """`action` on the element, once it is shown and enabled; done again on the element that
        replaced it if the page rendered in between. Returns what `action` returned."""
        def attempt(driver):
            try:
                element = driver.find_element(by, value)
                if not (element.is_displayed() and element.is_enabled()):
                    return False
                return (action(element),)
            except (StaleElementReferenceException, NoSuchElementException, ElementNotInteractableException):
                return False
        return self.wait(attempt, f"{by} {value}")[0]

    def see(self, text):
        self.wait(lambda d: text in d.find_element(By.TAG_NAME, "main").text, f"the text {text!r}")

    def click(self, element_id):
        self.act(By.ID, element_id, lambda element: element.click())

    def press_enter(self, by, value):
        self.act(By.ID if by == "id" else By.NAME, value, lambda element: element.send_keys(Keys.ENTER))

    def type(self, fields):
        def setter(value):
            def set_value(control):
                if control.tag_name == "select":
                    # Its options may still be on their way (NoSuchElementException: again).
                    Select(control).select_by_value(value)
                elif control.get_attribute("type") == "checkbox":
                    if control.is_selected() != value:
                        control.click()
                else:
                    control.clear()
                    control.send_keys(value)
            return set_value
        for name, value in fields.items():
            self.act(By.NAME, name, setter(value))

    def land(self, purchaser, email):
        """A new purchase by `purchaser`, its landing URL opened: the page shows the session."""
        body = json.dumps({"purchaser": {"emailId": email, "objectId": purchaser[1], "tenantId": purchaser[0],
                                         "puid": ""}}).encode()
        reply = post(f"{self.args.emulator}/admin/purchases", body)
        # The emulator names the landing page as configured for it; the browser goes to the
        # gateway's real one.
        landing = urllib.parse.urlsplit(reply["landingUrl"])
        self.driver.get(f"{self.args.landing}{landing.path}?{landing.query}&lang={self.args.lang}")
        self.wait(lambda d: "/activate" in d.current_url, "the redirect to /activate")
        # The landing redirect drops our lang; the page keeps it once switched.
        self.click_language()

    def click_language(self):
        self.act(By.CSS_SELECTOR, f'button.lang[data-lang="{self.args.lang}"]', lambda element: element.click())

    def activated(self, workspace):
        self.see(self.words["activated"])
        self.see(workspace)

    def code(self, directory, recipient, seen):
        """The code mailed to `recipient` for the step just taken; the page, if none came."""
        try:
            return code(directory, recipient, seen)
        except AssertionError as error:
            body = self.driver.find_element(By.TAG_NAME, "main").text
            raise AssertionError(f"{error}; the page shows:\n{body}")

    def close(self):
        self.driver.quit()


def post(url, body, headers=None):
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=PATIENCE) as response:
        return json.loads(response.read() or b"{}")


def connect(base, method, message, token=None):
    """A Connect call (JSON) to the suite, as any browser-side client would make it."""
    headers = {"connect-protocol-version": "1"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return post(f"{base}/{method}", json.dumps(message).encode(), headers)


def code(directory, recipient, seen):
    """The 6-digit code in the first message to `recipient` after the `seen` earlier ones."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        messages = []
        for path in sorted(glob.glob(os.path.join(directory, "*.eml"))):
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
            if f"To: {recipient}" in text.split("\r\n"):
                messages.append(text)
        if len(messages) > seen:
            found = re.search(r"\b[0-9]{6}\b", messages[-1])
            if found:
                return found.group(0)
        time.sleep(0.1)
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "*.eml"))):
        with open(path, encoding="utf-8", newline="") as handle:
            found += [line for line in handle.read().split("\r\n") if line.startswith("To: ")]
    raise AssertionError(f"no code reached {recipient} in {directory}; mail there went {found}")


def mail_count(directory, recipient):
    count = 0
    for path in glob.glob(os.path.join(directory, "*.eml")):
        with open(path, encoding="utf-8", newline="") as handle:
            if f"To: {recipient}" in handle.read().split("\r\n"):
                count += 1
    return count


def basic(prefix, username, email):
    return {f"{prefix}.username": username, f"{prefix}.password": PASSWORD,
            f"{prefix}.password_confirmation": PASSWORD, f"{prefix}.email": email}


def walk(args):
    run = uuid.uuid4().hex[:8]
    buyer = Buyer(args)
    try:
        first = (f"tenant-{run}", f"buyer-{run}")
        username = f"web{run}"
        email = f"{username}@contoso.example"

        # Branch 1: not linked, register and activate in one step; a refused field shown beside
        # its input first.
        buyer.land(first, email)
        buyer.step("landing")
        # By keyboard: the choice is a button that Enter presses.
        buyer.press_enter("id", "choose-register")
        buyer.type(basic("basic", username, email))
        buyer.type({"basic.password_confirmation": PASSWORD + "x", "company.company_name": "Contoso",
                    "company.industry": "Software", "company.region": "EU", "company.contact_name": "Dee",
                    "workspace.name": "Contoso Ops", "workspace.site": "us1", "workspace.language": "en",
                    "terms_accepted": True})
        buyer.step("register-form")
        buyer.click("submit")
        buyer.see(buyer.words["fix"])
        # The message beside the input, which names it for assistive technology.
        described = buyer.act(By.NAME, "basic.password_confirmation", lambda element: (
            element.get_attribute("aria-describedby"), element.get_attribute("aria-invalid")))
        assert described[1] == "true", "the refused field is not marked invalid"
        violation = buyer.act(By.ID, described[0], lambda element: element.text)
        assert violation, "the refused field has no message beside it"
        buyer.step("register-refused-field")
        buyer.type({"basic.password_confirmation": PASSWORD})
        buyer.click("submit")
        buyer.activated("Contoso Ops")
        buyer.step("register-activated")
        # The log-in step: the console's sign-in with the same username and password.
        buyer.click("log-in")
        buyer.type({"login": username, "password": PASSWORD})
        buyer.step("login-form")
        # By keyboard: Enter in the password field signs in.
        buyer.press_enter("name", "password")
        buyer.see(buyer.words["signed_in"])
        buyer.see("Contoso Ops")
        buyer.step("login-signed-in")

        # Branch 2: already linked (a second purchase), a new workspace for the existing Guance
        # account, proven by its emailed code.
        buyer.land(first, email)
        buyer.see(buyer.words["linked"])
        buyer.step("linked-workspace-step")
        buyer.click("choose-create-workspace")
        buyer.type({"workspace.name": "Contoso EU", "workspace.site": "eu1", "workspace.language": "en"})
        buyer.click("owner-existing")
        seen = mail_count(args.console_mail, email)
        buyer.type({"existing_account.email": email})
        buyer.click("send-workspace-code")
        buyer.type({"existing_account.code": buyer.code(args.console_mail, email, seen), "terms_accepted": True})
        buyer.step("existing-account-code")
        buyer.click("submit")
        buyer.activated("Contoso EU")
        buyer.step("existing-account-activated")

        # Branch 3: already linked, has a workspace the billing account pays for itself (made
        # here through the console's and the billing center's own Connect APIs): bind it.
        lab_user = f"lab{run}"
        created = connect(args.console_api, "guance.console.v1.WorkspaceConsoleService/RegisterAndCreateWorkspace", {
            "workspace_name": "Contoso Lab", "language": "en", "site": "us1", "username": lab_user,
            "password": PASSWORD, "password_confirmation": PASSWORD, "email": f"{lab_user}@contoso.example",
            "terms_accepted": True})
        owner = connect(args.console_api, "guance.console.v1.WorkspaceConsoleService/Login",
                        {"login": lab_user, "password": PASSWORD})["sessionToken"]
        billing = connect(args.billing_api, "guance.billing.v1.BillingCenterService/Login",
                          {"login": username, "password": PASSWORD})
        connect(args.billing_api, "guance.billing.v1.BillingCenterService/BindWorkspace", {
            "billing_account_id": billing["billingAccount"]["id"], "workspace_id": created["workspace"]["id"],
            "settlement": {"method": "SETTLEMENT_METHOD_BILLING_ACCOUNT"}, "workspace_owner_session": owner},
            token=billing["sessionToken"])
        buyer.land(first, email)
        buyer.click("choose-bind-workspace")
        buyer.type({"workspace_id": created["workspace"]["id"]})
        buyer.step("bind-workspace")
        buyer.click("submit")
        buyer.activated("Contoso Lab")
        buyer.step("bind-workspace-activated")

        # Branch 4: not linked, bind the existing billing center account by its emailed code, then
        # a workspace for a new Guance account.
        second = (f"tenant2-{run}", f"buyer2-{run}")
        buyer.land(second, f"other{run}@contoso.example")
        buyer.click("choose-bind")
        seen = mail_count(args.billing_mail, email)
        buyer.type({"billing_username": username})
        buyer.step("bind-billing-account")
        buyer.click("submit")
        buyer.type({"code": buyer.code(args.billing_mail, email, seen)})
        buyer.step("bind-billing-code")
        buyer.click("submit")
        buyer.click("choose-create-workspace")
        buyer.type({"workspace.name": "Fabrikam", "workspace.site": "us1", "workspace.language": "en"})
        buyer.click("owner-new")
        buyer.type({**basic("new_account", f"fab{run}", f"fab{run}@fabrikam.example"), "terms_accepted": True})
        buyer.step("new-guance-account")
        # The marketplace refuses Activate for a while: the page shows the activation under way
        # (polling GetActivation) until the gateway's retry gets through.
        post(f"{args.emulator}/admin/faults", json.dumps({"count": 1000, "status": 503, "path": "/activate"}).encode())
        buyer.click("submit")
        buyer.see(buyer.words["activating"])
        buyer.step("activating")
        post(f"{args.emulator}/admin/faults", json.dumps({"count": 0}).encode())
        buyer.activated("Fabrikam")
        buyer.step("new-guance-account-activated")
    finally:
        buyer.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--landing", required=True, help="the gateway's landing origin, http://host:port")
    parser.add_argument("--console-api", required=True)
    parser.add_argument("--billing-api", required=True)
    parser.add_argument("--billing-mail", required=True)
    parser.add_argument("--console-mail", required=True)
    parser.add_argument("--lang", choices=["en", "zh"], default="en")
    parser.add_argument("--screenshots", default="")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    walk(parser.parse_args())
    print("browser: every branch activated")


if __name__ == "__main__":
    sys.exit(main())
