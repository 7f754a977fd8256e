package dev.lockstep.template;

import java.util.List;


/**
 * Jinja2's {@code loop} variable inside a for loop: index, index0, revindex, revindex0, first, last,
 * length, previtem, nextitem, depth, depth0, {@code cycle(...)} and {@code changed(...)}.
 */
class Loop {
    private final List<Object> items;
    final int depth0;
    int index0;
    private Object lastChanged = Py.MISSING;

    Loop(List<Object> items, int depth0) {
        this.items = items;
        this.depth0 = depth0;
    }

    int length() {
        return items.size();
    }

    Object attr(String name) {
        int n = items.size();
        return switch (name) {
            case "index" -> (long) index0 + 1;
            case "index0" -> (long) index0;
            case "revindex" -> (long) (n - index0);
            case "revindex0" -> (long) (n - index0 - 1);
            case "first" -> index0 == 0;
            case "last" -> index0 == n - 1;
            case "length" -> (long) n;
            case "depth" -> (long) depth0 + 1;
            case "depth0" -> (long) depth0;
            case "previtem" -> index0 > 0 ? items.get(index0 - 1) : new Py.Undefined("there is no previous item");
            case "nextitem" -> index0 < n - 1 ? items.get(index0 + 1) : new Py.Undefined("there is no next item");
            case "cycle" -> (Py.Callable) (r, args, kw) -> {
                if (args.isEmpty()) throw new TemplateException.PyError("no items for cycling given");
                return args.get(index0 % args.size());
            };
            case "changed" -> (Py.Callable) (r, args, kw) -> {
                Object now = args.size() == 1 ? args.getFirst() : new Py.Tuple(args);
                boolean changed = lastChanged == Py.MISSING || !Py.eq(lastChanged, now);
                lastChanged = now;
                return changed;
            };
            default -> new Py.Undefined("'LoopContext object' has no attribute '" + name + "'");
        };
    }

}
