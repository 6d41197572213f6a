"""Signing in on the board, as a person does: the token pasted into the form, never a prompt."""

from playwright.async_api import Page, expect


async def sign_in(page: Page, token: str) -> None:
    """Fill the sign-in form with `token` and send it (the form says what it thought of it)."""
    form = page.locator("#sign-in")
    await expect(form).to_be_visible()
    await page.locator("#sign-in-token").fill(token)
    await page.locator("#sign-in-form button[type=submit]").click()
