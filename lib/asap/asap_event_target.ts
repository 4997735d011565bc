/**
 * A typed `EventTarget` for the ASAP endpoints: each event is a `CustomEvent` whose `detail`
 * type is given by the endpoint's detail map, so that listeners and tests need no casts.
 *
 * @module
 */

/** A listener of one event type of an endpoint whose details are `D`. */
export type AsapEventListener<D, K extends keyof D> = (event: CustomEvent<D[K]>) => void;

/**
 * The typed overloads of {@linkcode AsapEventTarget}, merged into the class: an untyped
 * `EventTarget` method cannot implement them without a cast, and the runtime behaviour is
 * EventTarget's own.
 */
export interface AsapEventTarget<D> {
  /** Adds a typed listener for `type`. */
  addEventListener<K extends keyof D & string>(
    type: K,
    listener: AsapEventListener<D, K> | null,
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
    listener: AsapEventListener<D, K> | null,
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
export class AsapEventTarget<D> extends EventTarget {
  /** Dispatches a `type` event carrying `detail`. */
  protected emit<K extends keyof D & string>(type: K, detail: D[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
