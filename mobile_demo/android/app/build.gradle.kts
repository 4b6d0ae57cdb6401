plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "org.kerasi2i.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.kerasi2i.demo"
        minSdk = 24
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions {
        jvmTarget = "17"
    }
    androidResources {
        // the model is read from the assets as is
        noCompress += "tflite"
    }
}

val litertVersion = "1.4.0"
val cameraxVersion = "1.4.1"

dependencies {
    implementation(project(":core"))
    // LiteRT's Interpreter API (package org.tensorflow.lite) with the GPU delegate: it feeds
    // uint8 and float32 tensors from ByteBuffers, as the desktop runtime (ai_edge_litert) does.
    implementation("com.google.ai.edge.litert:litert:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu:$litertVersion")
    implementation("com.google.ai.edge.litert:litert-gpu-api:$litertVersion")
    implementation("androidx.camera:camera-core:$cameraxVersion")
    implementation("androidx.camera:camera-camera2:$cameraxVersion")
    implementation("androidx.camera:camera-lifecycle:$cameraxVersion")
    implementation("androidx.camera:camera-view:$cameraxVersion")
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.core:core-ktx:1.15.0")
}

// `gradle :app:copyModel -PmodelDir=RUN/export`: copy an export folder's .tflite files and
// model.json into the assets (or write them there directly with
// `keras-i2i export --run RUN --android mobile_demo/android/app/src/main/assets`).
tasks.register<Copy>("copyModel") {
    group = "keras-i2i"
    description = "Copy the .tflite files and model.json of -PmodelDir=DIR into src/main/assets."
    val dir = project.findProperty("modelDir")?.toString()
    doFirst {
        require(dir != null) { "pass the export folder: -PmodelDir=RUN/export" }
        require(file("$dir/model.json").isFile) { "$dir has no model.json: export with `keras-i2i export --run RUN --android DIR`" }
    }
    from(dir ?: "missing-modelDir") {
        include("*.tflite", "model.json")
    }
    into("src/main/assets")
}
