import type { Domain } from "../domain.ts";
import { cancelOrder, flattenOrder } from "./flatten.ts";
import { orderItemsTable, ordersTable } from "./table.ts";

export const orders: Domain = {
  topic: "order",
  tables: [ordersTable, orderItemsTable],
  events: {
    "order.created": flattenOrder,
    "order.cancelled": cancelOrder,
  },
};
