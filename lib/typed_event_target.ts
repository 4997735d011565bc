/**
 * A typed `EventTarget` for every long-lived component (ASAP endpoints, the registrar, ENRP
 * peering, the proxy): each event is a `CustomEvent` whose `detail` type comes from the
 * component's detail map, so that listeners and tests need no casts. It imports nothing, so
 * every layer may use it.
 *
 * @module
 */

/** A listener of one event type of a component whose details are `D`. */
export type TypedEventListener<D, K extends keyof D> = (event: CustomEvent<D[K]>) => void;

/**
 * The typed overloads of {@linkcode TypedEventTarget}, merged into the class: an untyped
 * `EventTarget` method cannot implement them without a cast, and the runtime behaviour is
 * EventTarget's own.
 */
export interface TypedEventTarget<D> {
  /** Adds a typed listener for `type`. */
  addEventListener<K extends keyof D & string>(
    type: K,
    listener: TypedEventListener<D, K> | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds an untyped listener. */
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Removes a typed listener for `type`. */
  removeEventListener<K extends keyof D & string>(
    type: K,
    listener: TypedEventListener<D, K> | null,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes an untyped listener. */
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/** An `EventTarget` whose events carry the details of the map `D`. */
export class TypedEventTarget<D> extends EventTarget {
  /** Dispatches a `type` event carrying `detail`. */
  protected emit<K extends keyof D & string>(type: K, detail: D[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
