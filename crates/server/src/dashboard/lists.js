// The admins' lead lists: what campaigns call and uploads fill. Made, renamed and deleted here
// (a deleted list's leads are kept).
import * as api from "./api.js";
import { h, fill, when, number, table, toast, busy, submitted } from "./ui.js";

/**
 * The lists card. `onChange(lists)` hears the lists after every load (the Leads view's list
 * pickers follow them); `show(list)` is asked to show one list's leads.
 */
export function listsCard({ onChange, show }) {
  const box = h("div", { id: "lists" });
  const editor = h("div", { id: "list-edit" });

  function edit(l) {
    const save = submitted(async (f) => {
      await api.put(`/api/lists/${l.id}`, {
        name: f.elements.namedItem("name").value.trim(),
        description: f.description.value.trim() || null,
      });
      toast("List saved.", "ok");
      fill(editor);
      load();
    });
    fill(
      editor,
      h(
        "form",
        { class: "inline", id: "list-form", onsubmit: save },
        h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100, value: l.name })),
        h("label", {}, "About", h("input", { name: "description", maxlength: 500, value: l.description ?? "" })),
        h("button", { type: "submit" }, "Save"),
        h("button", { type: "button", class: "quiet", onclick: () => fill(editor) }, "Cancel"),
      ),
    );
  }

  async function load() {
    try {
      const { lists } = await api.get("/api/lists");
      onChange(lists);
      fill(
        box,
        table(
          [
            ["List", (l) => l.name],
            ["About", (l) => l.description ?? ""],
            ["Leads", (l) => number(l.lead_count)],
            ["Made", (l) => when(l.created_at)],
            [
              "",
              (l) => [
                h("button", { type: "button", class: "quiet", "data-show-list": l.id, onclick: () => show(l) }, "Show leads"),
                h("button", { type: "button", class: "quiet", "data-edit-list": l.id, onclick: () => edit(l) }, "Rename"),
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger",
                    "data-delete-list": l.id,
                    onclick: (e) =>
                      confirm(`Delete the list ${l.name}? Its ${number(l.lead_count)} leads are kept, without a list; campaigns made from it go on.`) &&
                      busy(e.target, async () => {
                        await api.del(`/api/lists/${l.id}`);
                        toast(`${l.name} deleted; its leads were kept.`, "ok");
                        fill(editor);
                        load();
                      }),
                  },
                  "Delete",
                ),
              ],
            ],
          ],
          lists,
          { empty: "No lists yet. Make one here, or upload a file with a list column.", key: (l) => l.id },
        ),
      );
    } catch (e) {
      fill(box, h("p", { class: "error" }, e.message));
    }
  }

  const create = submitted(async (f) => {
    const r = await api.post("/api/lists", {
      name: f.elements.namedItem("name").value.trim(),
      description: f.description.value.trim() || null,
    });
    toast(`${r.list?.name ?? "The list"} made: upload leads into it below, or start a campaign on it.`, "ok");
    load();
  });

  load();
  return {
    card: h(
      "div",
      { class: "card" },
      h("h2", {}, "Lists"),
      h("p", { class: "muted" }, "Campaigns call a list; uploads can fill one."),
      box,
      editor,
      h(
        "form",
        { class: "inline", id: "new-list", onsubmit: create },
        h("label", {}, "Name", h("input", { name: "name", required: true, maxlength: 100 })),
        h("label", {}, "About", h("input", { name: "description", maxlength: 500 })),
        h("button", { type: "submit" }, "Make list"),
      ),
    ),
    reload: load,
  };
}
