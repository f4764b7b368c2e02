import type { Domain } from "../domain.ts";
import { cancelOrder, flattenOrder } from "./flatten.ts";

export const orders: Domain = {
  topic: "order",
  events: {
    "order.created": flattenOrder,
    "order.cancelled": cancelOrder,
  },
};
