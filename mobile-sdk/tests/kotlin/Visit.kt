// A field visit through the SDK's generated Kotlin bindings, on the JVM, against a real server.
// Compiled and run by the Rust test `bindings::kotlin_bindings_drive_a_visit_on_sqlite`, which
// starts the server, generates the bindings and checks the server afterwards. Configuration
// comes from the environment: LOANWATCH_URL, LOANWATCH_DATA, LOANWATCH_TASK, LOANWATCH_USER,
// LOANWATCH_PASSWORD, LOANWATCH_FONT, LOANWATCH_CAMERA (1.jpg, 2.jpg… as the camera took them),
// LOANWATCH_RESULT.

import java.io.File
import uniffi.loanwatch_sdk.*

fun env(key: String): String = System.getenv(key) ?: error("$key is not set")

fun fix(latitude: Double = 39.911954, mock: Boolean = false) = LocationFix(
    latitude = latitude, longitude = 116.377817, datum = "wgs84", accuracyM = 9.0,
    provider = "gps", mockLocation = mock, fixTimeMs = System.currentTimeMillis() - 5_000,
)

inline fun <reified E : Throwable> expect(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw e
    }
    error("expected ${E::class.simpleName}")
}

fun main() {
    val task = env("LOANWATCH_TASK")
    val data = env("LOANWATCH_DATA")

    Client(env("LOANWATCH_URL"), data).use { online ->
        expect<SdkException.Auth> { online.login(env("LOANWATCH_USER"), "wrong") }
        online.login(env("LOANWATCH_USER"), env("LOANWATCH_PASSWORD"))
        val agenda = online.downloadAgenda(null, null)
        check(agenda.any { it.id == task && it.status == "assigned" }) { "$agenda" }
    }

    // Offline: nothing listens on port 9.
    val hashes = Client("http://127.0.0.1:9", data).use { offline ->
        offline.startTask(task)
        val verdict = offline.checkIn(task, fix())
        check(verdict.trusted && verdict.siteName == "厂区大门") { "$verdict" }
        val flagged = offline.checkIn(task, fix(latitude = 39.96, mock = true))
        check(flagged.reasons.map { it.flag }.containsAll(listOf("outside_geofence", "mock_location")))
        check(offline.checklist(task).templateCode == "enterprise_first_inspection")
        val wrong = expect<SdkException.Validation> {
            offline.answer(task, "operations_status", "\"booming\"")
        }
        check(wrong.field == "operations_status") { "$wrong" }
        mapOf(
            "proceeds_as_agreed" to "false",
            "proceeds_deviation" to "\"部分资金流入关联企业\"",
            "payee_matches_contract" to "true",
            "operations_status" to "\"normal\"",
            "capacity_utilisation_pct" to "85",
            "inventory_reasonable" to "true",
            "risk_assessment" to "\"attention\"",
        ).forEach { (key, value) -> offline.answer(task, key, value) }
        val hashes = Watermarker(env("LOANWATCH_FONT"), 0u).use { marker ->
            listOf("site_photos", "site_photos", "proceeds_evidence").mapIndexed { i, item ->
                val jpeg = File(env("LOANWATCH_CAMERA"), "${i + 1}.jpg").readBytes()
                val stamp = offline.stamp(task, fix())
                val photo = marker.watermark(jpeg, stamp)
                offline.addPhoto(task, item, photo, stamp)
                photo.sha256
            }
        }
        check(offline.signOff(task).signed)
        offline.submit(task)
        expect<SdkException.Network> { offline.sync(true, null) }
        hashes
    }

    // Online again.
    Client(env("LOANWATCH_URL"), data).use { client ->
        val seen = mutableListOf<String>()
        val report = client.sync(true, object : SyncProgress {
            override fun onProgress(done: UInt, total: UInt, what: String): Boolean {
                seen.add(what)
                return true
            }
        })
        check(report.remaining == 0u && report.parked == 0u) { "$report" }
        check(seen.first() == "start_task" && seen.last() == "submit") { "$seen" }
        check(client.outbox().isEmpty())
    }
    File(env("LOANWATCH_RESULT")).writeText(hashes.joinToString("\n"))
    println("kotlin visit: ok")
}
