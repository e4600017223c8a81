// Read access to the informers' caches of one kind, over all the namespaces the controller watches
// (one informer per namespace, or one for the whole cluster). Reconcilers read only from here.

import type { Informer } from './informer.js';
import type { Identified } from './resources.js';

export interface ObjectCache<T> {
  get(namespace: string, name: string): T | undefined;
  /** Every cached object, or those of one namespace. */
  list(namespace?: string): T[];
}

export class InformerCache<T extends Identified> implements ObjectCache<T> {
  constructor(private readonly informers: ReadonlyMap<string | undefined, Informer<T>>) {}

  get(namespace: string, name: string): T | undefined {
    return (this.informers.get(namespace) ?? this.informers.get(undefined))?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) {
      const informer = this.informers.get(namespace) ?? this.informers.get(undefined);
      return (informer?.list() ?? []).filter((o) => o.metadata?.namespace === namespace);
    }
    return [...this.informers.values()].flatMap((i) => i.list());
  }
}

/** A cache over a fixed list (unit tests of reconcilers). */
export class StaticCache<T extends Identified> implements ObjectCache<T> {
  constructor(public items: T[] = []) {}
  get(namespace: string, name: string): T | undefined {
    return this.items.find((o) => o.metadata?.namespace === namespace && o.metadata?.name === name);
  }
  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.items] : this.items.filter((o) => o.metadata?.namespace === namespace);
  }
}
