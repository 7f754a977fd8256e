package dev.lockstep.gguf;

import java.util.Arrays;
import java.util.Objects;

/**
 * One metadata value with its GGUF type, so that a file can be rewritten with the same types.
 * <p>Java representation of {@link #value()}: integer scalars are {@link Long} (UINT32 read as its
 * unsigned value); FLOAT32 {@link Float}; FLOAT64 {@link Double}; BOOL {@link Boolean}; STRING
 * {@link String}; ARRAY a {@link GgufArray}.
 */
public record GgufValue(GgufValueType type, Object value) {

    public GgufValue {
        Objects.requireNonNull(type);
        Objects.requireNonNull(value);
        boolean ok = switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> value instanceof Long;
            case FLOAT32 -> value instanceof Float;
            case FLOAT64 -> value instanceof Double;
            case BOOL -> value instanceof Boolean;
            case STRING -> value instanceof String;
            case ARRAY -> value instanceof GgufArray;
        };
        if (!ok) throw new IllegalArgumentException("GGUF " + type + " cannot hold " + value.getClass().getSimpleName());
    }

    public static GgufValue ofString(String s) { return new GgufValue(GgufValueType.STRING, s); }
    public static GgufValue ofUInt32(long v) { return new GgufValue(GgufValueType.UINT32, v); }
    public static GgufValue ofInt32(int v) { return new GgufValue(GgufValueType.INT32, (long) v); }
    public static GgufValue ofUInt64(long v) { return new GgufValue(GgufValueType.UINT64, v); }
    public static GgufValue ofFloat32(float v) { return new GgufValue(GgufValueType.FLOAT32, v); }
    public static GgufValue ofBool(boolean v) { return new GgufValue(GgufValueType.BOOL, v); }
    public static GgufValue ofArray(GgufArray a) { return new GgufValue(GgufValueType.ARRAY, a); }

    @Override
    public String toString() {
        return type == GgufValueType.ARRAY ? value.toString() : type + ":" + value;
    }

    /**
     * A typed GGUF array. {@code data} is int[] for 8/16/32-bit integer elements (UINT32 as raw bits),
     * long[] for 64-bit integers, float[] for FLOAT32, double[] for FLOAT64, boolean[] for BOOL,
     * String[] for STRING and GgufArray[] for nested arrays.
     */
    public record GgufArray(GgufValueType elementType, Object data) {
        public GgufArray {
            Objects.requireNonNull(elementType);
            Class<?> expected = switch (elementType) {
                case UINT8, INT8, UINT16, INT16, UINT32, INT32 -> int[].class;
                case UINT64, INT64 -> long[].class;
                case FLOAT32 -> float[].class;
                case FLOAT64 -> double[].class;
                case BOOL -> boolean[].class;
                case STRING -> String[].class;
                case ARRAY -> GgufArray[].class;
            };
            if (data.getClass() != expected)
                throw new IllegalArgumentException("GGUF array of " + elementType + " needs " + expected.getSimpleName());
        }

        public static GgufArray ofStrings(String... s) { return new GgufArray(GgufValueType.STRING, s); }
        public static GgufArray ofFloats(float... f) { return new GgufArray(GgufValueType.FLOAT32, f); }
        public static GgufArray ofInt32s(int... v) { return new GgufArray(GgufValueType.INT32, v); }

        public int length() {
            return java.lang.reflect.Array.getLength(data);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GgufArray a && a.elementType == elementType
                    && Arrays.deepEquals(new Object[]{data}, new Object[]{a.data});
        }

        @Override
        public int hashCode() {
            return elementType.hashCode() * 31 + Arrays.deepHashCode(new Object[]{data});
        }

        @Override
        public String toString() {
            return "ARRAY<" + elementType + ">[" + length() + "]";
        }
    }
}
