/**
 * The few browser APIs the page uses, typed here rather than through TypeScript's DOM library: the
 * project has one tsconfig for Node and browser code alike, and adding `dom` to it would retype
 * Node's fetch, timers and streams in every other file. Browser code only.
 */

export interface PageEvent {
  preventDefault(): void;
}

export interface PageElement {
  textContent: string | null;
  className: string;
  hidden: boolean;
  title: string;
  readonly classList: { toggle(name: string, force?: boolean): boolean };
  setAttribute(name: string, value: string): void;
  replaceChildren(...nodes: (PageElement | string)[]): void;
  append(...nodes: (PageElement | string)[]): void;
  addEventListener(type: string, listener: (event: PageEvent) => void): void;
}

export interface PageInput extends PageElement {
  value: string;
  checked: boolean;
  disabled: boolean;
  focus(): void;
}

export interface PageDialog extends PageElement {
  readonly open: boolean;
  showModal(): void;
  close(): void;
}

export interface PageMessage {
  data: string;
}

/** The browser's WebSocket, as far as the page uses it. */
export interface PageSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (message: PageMessage) => void): void;
}

interface Browser {
  document: {
    getElementById(id: string): PageElement | null;
    createElement(tag: string): PageElement;
    addEventListener(type: string, listener: () => void): void;
    readonly readyState: string;
    readonly visibilityState: string;
  };
  location: { assign(url: string): void };
  WebSocket?: new (url: string, protocols: string[]) => PageSocket;
  btoa(text: string): string;
}

export const browser = globalThis as unknown as Browser;

/** An element the page cannot work without; its absence is a bug in page.html. */
export function byId<T extends PageElement = PageElement>(id: string): T {
  const element = browser.document.getElementById(id);
  if (element === null) throw new Error(`page.html has no #${id}`);
  return element as T;
}

export type Child = PageElement | string | null | undefined | false;

/** A new element with attributes and children; text always goes in as text, never as markup. */
export function h(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): PageElement {
  const element = browser.document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(
    ...children.filter((c): c is PageElement | string => c !== null && c !== undefined && c !== false),
  );
  return element;
}
