package org.kerasi2i.core

/** A JSON text that could not be parsed; the message names the offset and what was expected. */
class JsonException(message: String) : RuntimeException(message)

/**
 * A minimal JSON reader (RFC 8259) for `model.json`: objects become `Map<String, Any?>`
 * (insertion order kept), arrays `List<Any?>`, numbers `Double`, and strings, booleans and
 * null themselves. It keeps `core` free of dependencies (Android's `org.json` is not on a
 * plain JVM, and no JSON library ships with Debian's Kotlin).
 */
object Json {
    fun parse(text: String): Any? {
        val reader = Reader(text)
        reader.skipSpace()
        val value = reader.value()
        reader.skipSpace()
        if (reader.pos != text.length) throw reader.error("end of input")
        return value
    }

    private class Reader(val text: String) {
        var pos = 0

        fun error(expected: String): JsonException {
            val found = if (pos < text.length) "'${text[pos]}'" else "end of input"
            return JsonException("Invalid JSON at offset $pos: expected $expected, found $found")
        }

        fun skipSpace() {
            while (pos < text.length && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\r' || text[pos] == '\t')) pos++
        }

        fun value(): Any? {
            if (pos >= text.length) throw error("a value")
            val c = text[pos]
            return when {
                c == '{' -> obj()
                c == '[' -> array()
                c == '"' -> string()
                c == '-' || (c in '0'..'9') -> number()
                text.startsWith("true", pos) -> { pos += 4; true }
                text.startsWith("false", pos) -> { pos += 5; false }
                text.startsWith("null", pos) -> { pos += 4; null }
                else -> throw error("a value")
            }
        }

        private fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (pos < text.length && text[pos] == '}') { pos++; return out }
            while (true) {
                skipSpace()
                if (pos >= text.length || text[pos] != '"') throw error("a string key")
                val key = string()
                skipSpace()
                if (pos >= text.length || text[pos] != ':') throw error("':'")
                pos++
                skipSpace()
                out[key] = value()
                skipSpace()
                if (pos < text.length && text[pos] == ',') { pos++; continue }
                if (pos < text.length && text[pos] == '}') { pos++; return out }
                throw error("',' or '}'")
            }
        }

        private fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipSpace()
            if (pos < text.length && text[pos] == ']') { pos++; return out }
            while (true) {
                skipSpace()
                out.add(value())
                skipSpace()
                if (pos < text.length && text[pos] == ',') { pos++; continue }
                if (pos < text.length && text[pos] == ']') { pos++; return out }
                throw error("',' or ']'")
            }
        }

        private fun string(): String {
            pos++ // opening quote
            val out = StringBuilder()
            while (true) {
                if (pos >= text.length) throw error("'\"'")
                val c = text[pos++]
                when {
                    c == '"' -> return out.toString()
                    c == '\\' -> {
                        if (pos >= text.length) throw error("an escape")
                        val e = text[pos++]
                        when (e) {
                            '"' -> out.append('"')
                            '\\' -> out.append('\\')
                            '/' -> out.append('/')
                            'b' -> out.append('\b')
                            'f' -> out.append('\u000C')
                            'n' -> out.append('\n')
                            'r' -> out.append('\r')
                            't' -> out.append('\t')
                            'u' -> {
                                if (pos + 4 > text.length) throw error("four hex digits")
                                val hex = text.substring(pos, pos + 4)
                                val code = try { Integer.parseInt(hex, 16) } catch (err: NumberFormatException) { throw error("four hex digits") }
                                out.append(code.toChar())
                                pos += 4
                            }
                            else -> { pos--; throw error("an escape") }
                        }
                    }
                    c < ' ' -> { pos--; throw error("no control character in a string") }
                    else -> out.append(c)
                }
            }
        }

        private fun number(): Double {
            val start = pos
            if (text[pos] == '-') pos++
            while (pos < text.length && (text[pos] in '0'..'9' || text[pos] == '.' || text[pos] == 'e' ||
                    text[pos] == 'E' || text[pos] == '+' || text[pos] == '-')) pos++
            val token = text.substring(start, pos)
            try {
                return token.toDouble()
            } catch (err: NumberFormatException) {
                pos = start
                throw error("a number")
            }
        }
    }
}
