/** A tiny element builder: no HTML strings, so nothing from the network is ever parsed as markup. */

type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (name === 'class') el.className = String(value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** Says `message` once through the page's polite live region (screen readers). */
export function announce(message: string): void {
  const region = document.getElementById('status');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick is announced even when the words repeat.
  setTimeout(() => (region.textContent = message), 50);
}

/** A view's heading: focused on navigation, so screen readers start at the new content. */
export function heading(text: string, level: 'h1' | 'h2' = 'h1'): HTMLHeadingElement {
  return h(level, { tabindex: -1 }, text);
}

export function button(label: string, onClick: (ev: MouseEvent) => void, props: Props = {}): HTMLButtonElement {
  const b = h('button', { type: 'button', ...props }, label);
  b.addEventListener('click', onClick);
  return b;
}

let fieldSeq = 0;

/** A labelled input with an optional hint tied by aria-describedby. */
export function field(label: string, input: HTMLInputElement, hint?: string): HTMLDivElement {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, input);
}
