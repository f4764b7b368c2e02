import type { PostDocument } from "../domains/posts/schema.ts";
import type { Random } from "./random.ts";

// ---- realistic text: several scripts, emoji, secrets that must never be stored --------------
const words = (text: string) => text.split("|");
const FIRST = words("Noa|Liam|Maya|Omar|Yael|Sofia|Daniel|Aiko|Mateo|Léa|José|Søren|נועה|אורי|שירה");
const LAST = words("Levi|Cohen|Haddad|Smith|García|Tanaka|Müller|Rossi|Silva|לוי|כהן|מזרחי");
const EMOJI = words("🌿|🔥|✨|🎨|☕|🚀|💜|🙂|🇮🇱");
export const BIOS = words(
  "Ceramics, coffee, Haifa.|אוהבת קרמיקה וקפה ☕|Runner 🏃 and reader.|Plant person 🌱|מעצבת גרפית|",
);
export const COMPANY = words("Cedar|Olive & Oak|Blue Harbor|Galil|Sunrise|Nordic|אחים כהן|Sakura");
export const COMPANY_SUFFIX = words("Supply Ltd.|Trading Co.|Crafts|Goods Inc.|בע״מ|GmbH");
const PLACES = words(
  "Haifa,Haifa District,IL,33031|Tel Aviv,Tel Aviv District,IL,61000|Berlin,Berlin,DE,10115|Austin,TX,US,73301|" +
    "Lyon,Auvergne-Rhône-Alpes,FR,69001|Osaka,Osaka,JP,530-0001|São Paulo,SP,BR,01000-000",
).map((p) => p.split(",") as [string, string, string, string]);
const STREETS = words("Harbor Rd|Carmel Ave|Main St|Rue de la République|רחוב הרצל|Hauptstraße");
export const SIZES = words("Small|Medium|Large|XL|קטן|One size");
export const COLORS = words("White|Blue|Black|Olive|Sand|כחול|Red");
const ADJECTIVES = words("Handmade|Organic|Vintage|Minimal|Cozy|Smart|Classic");
const NOUNS = words("Ceramic Mug|Linen Pillow|Leather Wallet|Yoga Mat|Desk Lamp|Olive Oil|כוס קרמיקה|Phone Case");
export const DESCRIPTIONS = words("Stoneware, 350 ml.|Made in Israel 🇮🇱|בעבודת יד|Ships in 2 days.|100% cotton.");
export const BRANDS = words("Cedar|Nordic Home|Galil|Sakura");
const POST_LINES = words(
  "New glaze test — שלום!|Sale this weekend 🔥|Which one?|Behind the scenes ✨|תודה לכולם!|Restocked.",
);
export const TITLES = words("Operations Manager|Owner|מנהלת רכש|Sales Lead");
export const TIMEZONES = words("Asia/Jerusalem|Europe/Berlin|America/Chicago|Asia/Tokyo");

export const personName = (r: Random) => `${r.pick(FIRST)} ${r.pick(LAST)}`;
export const withEmoji = (r: Random, s: string) => (r.chance(0.15) ? `${s} ${r.pick(EMOJI)}` : s);
export const email = (r: Random, name: string) =>
  `${
    name
      .normalize("NFD")
      .replace(/[^a-z]/gi, "")
      .toLowerCase() || "user"
  }.${r.hex(5)}@${r.pick(["example.com", "mail.example", "example.co.il"])}`;
export const phone = (r: Random) =>
  r.chance(0.6) ? `+972-5${r.int(0, 9)}-${r.int(100, 999)}-${r.int(1000, 9999)}` : `+1-512-555-${r.int(1000, 9999)}`;
export const productName = (r: Random) =>
  `${r.pick(ADJECTIVES)} ${r.pick(NOUNS)}${r.chance(0.05) ? ` ${r.pick(EMOJI)}` : ""}`;
export const postText = (r: Random) => Array.from({ length: r.int(1, 3) }, () => r.pick(POST_LINES)).join(" ");
export const banking = (r: Random, holder: string) => ({
  bank_name: "Example Bank",
  account_holder_name: holder,
  account_number_last4: String(r.int(1000, 9999)),
});
export function address(r: Random) {
  const [city, state, country, zip] = r.pick(PLACES);
  const street_address_2 = r.chance(0.3) ? `Apt ${r.int(1, 40)}` : null;
  return {
    street_address_1: `${r.int(1, 200)} ${r.pick(STREETS)}`,
    street_address_2,
    city,
    state,
    zip_code: zip,
    country,
  };
}
export function media(r: Random, type: "image" | "video"): PostDocument["media"] {
  return Array.from({ length: type === "video" ? 1 : r.int(1, 4) }, () => ({
    media_type: type,
    media_url: `https://cdn.example.com/m/${r.hex(12)}.${type === "video" ? "mp4" : "jpg"}`,
    thumbnail_url: r.chance(0.5) ? `https://cdn.example.com/t/${r.hex(12)}.jpg` : null,
    width: 1080,
    height: r.pick([1080, 1350, 1920]),
    duration_seconds: type === "video" ? r.int(50, 6000) / 10 : null,
    size_bytes: r.int(20_000, 9_000_000),
  }));
}
export const linkPreview = (r: Random) => ({
  url: `https://blog.example.com/${r.hex(8)}`,
  title: r.pick(["Glaze notes", "How we ship", "מדריך קצר", "Top 10 mugs ☕"]),
  description: r.chance(0.5) ? "A short read." : null,
  image: r.chance(0.5) ? `https://cdn.example.com/l/${r.hex(8)}.jpg` : null,
  site_name: r.chance(0.7) ? "Example Blog" : null,
});
