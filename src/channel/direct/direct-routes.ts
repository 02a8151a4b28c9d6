/** A frame as a direct link sees it: its sequence and target, and the bytes to write. */
export interface RoutedFrame {
  readonly seq: number;
  /** The frame's target field: a peer id, or TARGET_ALL / TARGET_OTHERS. */
  readonly target: number;
  frame: Buffer;
}

/**
 * Where frames may go besides the hub: direct links to peers. The outbox decides, frame by frame
 * and in sequence order, which path may carry each one without breaking per-receiver order.
 */
export interface DirectRoutes {
  /** Whether a direct link to this peer is open and may take a frame now. */
  canSend(target: number): boolean;
  /** Writes the entry on the direct link to `target` (the link confirms it by seq). */
  send(target: number, entry: RoutedFrame): void;
}
