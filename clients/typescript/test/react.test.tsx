// @vitest-environment happy-dom
// The React hooks in a DOM at framestate's own origin, authenticated as a board page is: the
// page's login hands a token to POST /v1/session once, then only the HttpOnly cookie is sent, so
// the example card runs as written, with no token. It follows a live export to its end.
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, test } from "vitest";
import { useLiveBoard } from "@framestate/client/react";
import { ProjectCard } from "../examples/ProjectCard.js";
import { tokenOf, World } from "./service.js";

const world = new World("react");

beforeAll(async () => {
  const session = await fetch("/v1/session", {
    method: "POST",
    headers: { Authorization: `Bearer ${tokenOf("react")}`, "Content-Type": "application/json" },
  });
  expect(session.status).toBe(204);
  expect(document.cookie).toBe(""); // HttpOnly: out of reach of page scripts
});

afterEach(cleanup);

function Board() {
  const { cards, error } = useLiveBoard({ baseUrl: "", status: "exporting" });
  return (
    <ul aria-label="exporting" data-error={error?.message ?? ""}>
      {[...cards.values()].map((project) => (
        <li key={project.id} data-id={project.id}>
          {project.name}
        </li>
      ))}
    </ul>
  );
}

describe("useLiveProject", () => {
  test("the example card follows a live export: badge, progress bar, then the result", async () => {
    const project = await world.completeProject("Surf trip");
    render(<ProjectCard projectId={project.id} />);
    const badge = await screen.findByRole("status");
    expect(badge.textContent).toBe("Complete");

    const job = await world.start(project.id, "framing");
    await waitFor(() => expect(badge.textContent).toBe("Framing…"));
    expect(screen.getByText("Queued")).toBeTruthy();
    await world.progress(job.id, 40);
    const bar = await screen.findByRole("progressbar", { name: "Framing export progress" });
    await waitFor(() => expect(bar.getAttribute("value")).toBe("40"));
    expect(screen.getByText("40%")).toBeTruthy();

    await world.succeed(job.id);
    await waitFor(() => expect(badge.textContent).toBe("Framed"));
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(screen.getByText("v2")).toBeTruthy();
  });

  test("the card goes away when the project is deleted", async () => {
    const project = await world.createProject("Short-lived");
    const { container } = render(<ProjectCard projectId={project.id} />);
    await screen.findByText("Short-lived");
    await act(() => world.remove(project.id));
    await waitFor(() => expect(container.innerHTML).toBe(""));
  });
});

describe("useLiveBoard", () => {
  test("lists the exporting projects as their exports start and end", async () => {
    const first = await world.framedProject("First cut");
    const second = await world.framedProject("Second cut");
    render(<Board />);
    const list = screen.getByRole("list", { name: "exporting" });
    const ours = () =>
      [...list.children]
        .filter((item) => [first.id, second.id].includes((item as HTMLElement).dataset.id ?? ""))
        .map((item) => item.textContent);
    const job = await world.start(first.id, "framing");
    await waitFor(() => expect(ours()).toEqual(["First cut"]));
    await world.start(second.id, "framing");
    await waitFor(() => expect(ours()).toEqual(["Second cut", "First cut"]));
    await world.succeed(job.id);
    await waitFor(() => expect(ours()).toEqual(["Second cut"]));
    expect(list.dataset.error).toBe("");
  });
});
